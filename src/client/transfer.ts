// Bodies that move files: the multipart/form-data of an upload and the streams of a
// download, both optionally counted for a progress listener.

import type { CallOptions } from "./http.ts";
import type { ProgressListener } from "./types.ts";

export type UploadData = string | Uint8Array | Blob;

export interface UploadFile {
  /** Where it goes, relative to /home/work (directories are created) or absolute under it. */
  path: string;
  data: UploadData;
}

/** A downloaded file or archive: read `body` once, as a stream or through bytes()/text(). */
export class Download {
  constructor(
    /** The name the server gave it: "lib.tar", "<session>.zip", "main.c". */
    readonly name: string,
    /** Its length in bytes when the server said. */
    readonly size: number | null,
    readonly body: ReadableStream<Uint8Array>,
  ) {}

  async bytes(): Promise<Uint8Array> {
    return new Uint8Array(await new Response(this.body).arrayBuffer());
  }

  text(): Promise<string> {
    return new Response(this.body).text();
  }
}

/**
 * The upload body. Kiln percent-decodes part filenames (for aiohttp's sake), so a literal
 * "%" is sent as "%25" to arrive unchanged. With a listener the form is encoded up front
 * and streamed through a counter: that needs a runtime that streams request bodies
 * (Node, Bun, Deno); without one the runtime sends the FormData as it likes.
 */
export async function uploadBody(files: readonly UploadFile[], onProgress?: ProgressListener): Promise<NonNullable<CallOptions["body"]>> {
  const form = new FormData();
  for (const file of files) {
    const blob = file.data instanceof Blob ? file.data : new Blob([typeof file.data === "string" ? file.data : (file.data as Uint8Array<ArrayBuffer>)]);
    form.append("src", blob, file.path.replaceAll("%", "%25"));
  }
  if (!onProgress) return { data: form, mediaType: "multipart/form-data" };
  const encoded = new Response(form);
  const contentType = encoded.headers.get("content-type") ?? "multipart/form-data";
  const blob = await encoded.blob();
  return { data: counted(blob.stream(), blob.size, onProgress), mediaType: "multipart/form-data", contentType };
}

/** The stream, reporting the bytes that have passed through it. */
export function counted(stream: ReadableStream<Uint8Array>, total: number | null, onProgress: ProgressListener): ReadableStream<Uint8Array> {
  let loaded = 0;
  onProgress({ loaded, total });
  return stream.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        loaded += chunk.byteLength;
        controller.enqueue(chunk);
        onProgress({ loaded, total });
      },
    }),
  );
}

/** A response body as a Download, counted when asked. */
export function toDownload(response: Response, fallbackName: string, onProgress?: ProgressListener): Download {
  const length = response.headers.get("content-length");
  const size = length !== null && /^\d+$/.test(length) ? Number(length) : null;
  const body = response.body ?? new ReadableStream<Uint8Array>({ start: (c) => c.close() });
  const name = filenameOf(response.headers.get("content-disposition")) ?? fallbackName;
  return new Download(name, size, onProgress ? counted(body, size, onProgress) : body);
}

/** The filename of a Content-Disposition value: RFC 8187's filename* first, then filename. */
export function filenameOf(disposition: string | null): string | null {
  if (!disposition) return null;
  const extended = /filename\*\s*=\s*([\w!#$&+.^`|~-]+)'[^']*'([^;\s]+)/i.exec(disposition);
  if (extended) {
    try {
      if (extended[1]!.toLowerCase() === "utf-8") return decodeURIComponent(extended[2]!);
      return extended[2]!.replace(/%([0-9a-f]{2})/gi, (_, code: string) => String.fromCharCode(parseInt(code, 16)));
    } catch {
      // Badly encoded: the plain filename is next.
    }
  }
  const plain = /filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/i.exec(disposition);
  if (!plain) return null;
  return plain[1] !== undefined ? plain[1].replace(/\\(.)/g, "$1") : plain[2]!;
}
