// Multipart both ways: a streamed multipart/mixed body for downloads (Backend.AI's client
// reads it with aiohttp's MultipartReader, one tar per part) and a bounded, streamed parse
// of multipart/form-data uploads.

import {
  MaxFileSizeExceededError,
  MaxHeaderSizeExceededError,
  MaxPartsExceededError,
  MaxTotalSizeExceededError,
  MultipartParseError,
  MultipartParser,
  type MultipartPart,
} from "@remix-run/multipart-parser";

const encoder = new TextEncoder();

// ---------------------------------------------------------------------------------------
// multipart/mixed writer

export interface MixedPart {
  headers: Record<string, string>;
  /** Opened only when the part's turn comes, so one body is read at a time. */
  body: () => ReadableStream<Uint8Array>;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// RFC 2046 bchars; a trailing space is not allowed.
const BOUNDARY = /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/;

function randomBoundary(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return "kiln-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function multipartMixed(
  parts: MixedPart[],
  boundary: string = randomBoundary(),
): { contentType: string; body: ReadableStream<Uint8Array> } {
  if (!BOUNDARY.test(boundary)) throw new TypeError(`Invalid multipart boundary ${JSON.stringify(boundary)}`);
  // Headers are checked up front: a CR or LF in a value would let it forge parts.
  const heads = parts.map(({ headers }) => {
    let head = `--${boundary}\r\n`;
    for (const [key, value] of Object.entries(headers)) {
      if (!TOKEN.test(key)) throw new TypeError(`Invalid part header name ${JSON.stringify(key)}`);
      if (/[\r\n\0]/.test(value)) throw new TypeError(`Invalid value for part header ${key}`);
      head += `${key}: ${value}\r\n`;
    }
    return encoder.encode(head + "\r\n");
  });

  let index = 0;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (reader) {
          const { done, value } = await reader.read();
          if (!done) return controller.enqueue(value);
          reader.releaseLock();
          reader = undefined;
          index++;
          return controller.enqueue(encoder.encode("\r\n"));
        }
        const head = heads[index];
        const part = parts[index];
        if (head && part) {
          reader = part.body().getReader();
          return controller.enqueue(head);
        }
        controller.enqueue(encoder.encode(`--${boundary}--\r\n`));
        controller.close();
      },
      async cancel(reason) {
        await reader?.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  return { contentType: `multipart/mixed; boundary=${quoteIfNeeded(boundary)}`, body };
}

function quoteIfNeeded(value: string): string {
  return TOKEN.test(value) ? value : `"${value}"`;
}

/**
 * A Content-Disposition value for a download: `filename` holds an ASCII fallback (quoted,
 * with `"` and `\` escaped, anything else replaced by `_`), `filename*` the exact name
 * (RFC 8187, UTF-8, percent-encoded) which RFC 6266 readers such as aiohttp prefer.
 */
export function contentDisposition(filename: string): string {
  const fallback = filename.replace(/[^\x20-\x7e]/g, "_").replace(/["\\]/g, "\\$&");
  let encoded = "";
  for (const byte of encoder.encode(filename)) {
    const char = String.fromCharCode(byte);
    encoded += /[A-Za-z0-9!#$&+\-.^_`|~]/.test(char) ? char : "%" + byte.toString(16).toUpperCase().padStart(2, "0");
  }
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}

// ---------------------------------------------------------------------------------------
// multipart/form-data uploads

export type UploadErrorReason =
  | "too-many-files"
  | "too-large-file"
  | "header-too-large"
  | "not-multipart"
  | "malformed"
  | "missing-filename";

export class UploadError extends Error {
  override name = "UploadError";
  constructor(
    readonly reason: UploadErrorReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface UploadLimits {
  maxFiles: number;
  /** Largest allowed part; exactly this many bytes is fine. */
  maxFileBytes: number;
  /** Largest allowed header block of one part. */
  maxHeaderBytes: number;
}

export interface UploadedFile {
  /** As the client sent it (after Content-Disposition unquoting); the caller normalises. */
  filename: string;
  data: Uint8Array;
}

// Bytes tolerated after the closing delimiter (RFC 2046 allows an epilogue).
const MAX_EPILOGUE_BYTES = 64 * 1024;

/** The boundary of a multipart/form-data Content-Type, or null when it is not one. */
function formDataBoundary(contentType: string | null): string | null {
  if (!contentType) return null;
  const semicolon = contentType.indexOf(";");
  const mediaType = (semicolon < 0 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
  if (mediaType !== "multipart/form-data" || semicolon < 0) return null;
  const params = /;\s*([^=;\s]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/g;
  for (const match of contentType.slice(semicolon).matchAll(params)) {
    if (match[1]?.toLowerCase() !== "boundary") continue;
    const value = match[2] !== undefined ? match[2].replace(/\\(.)/g, "$1") : (match[3] ?? "").trim();
    return BOUNDARY.test(value) ? value : null;
  }
  return null;
}

/**
 * Reads a multipart/form-data upload into memory, part by part, stopping at the first
 * limit or format violation with an UploadError. The request body is cancelled as soon
 * as parsing stops early, so nothing past the violation is read.
 *
 * This drives @remix-run/multipart-parser's MultipartParser directly rather than through
 * parseMultipartRequest, which matches the media type case-sensitively, never cancels the
 * body, and throws when the epilogue after the closing delimiter arrives in its own chunk.
 */
export async function readUpload(request: Request, limits: UploadLimits): Promise<UploadedFile[]> {
  const boundary = formDataBoundary(request.headers.get("content-type"));
  if (boundary === null) {
    await request.body?.cancel().catch(() => {});
    throw new UploadError("not-multipart", "Expected a multipart/form-data body with a boundary");
  }
  if (!request.body) throw new UploadError("malformed", "The multipart body is empty");

  const parser = new MultipartParser(boundary, {
    maxParts: limits.maxFiles,
    maxFileSize: limits.maxFileBytes,
    maxHeaderSize: limits.maxHeaderBytes,
    // Every part is already capped at maxFileBytes, so going over this total can only mean
    // more than maxFiles parts: it reports too-many-files before the extra part completes.
    maxTotalSize: limits.maxFiles * limits.maxFileBytes,
  });
  const reader = request.body.getReader();
  const files: UploadedFile[] = [];
  let complete = false;
  try {
    while (!complete) {
      const chunk = await read(reader);
      if (chunk === null) throw new UploadError("malformed", "The multipart body ended before its closing boundary");
      if (chunk.byteLength === 0) continue;
      for (const part of parser.write(chunk)) files.push(toFile(part));
      complete = isDone(parser);
    }
    // Drain a short epilogue rather than cut the connection under a client still sending it.
    let epilogue = 0;
    for (let chunk = await read(reader); chunk !== null; chunk = await read(reader)) {
      epilogue += chunk.byteLength;
      if (epilogue > MAX_EPILOGUE_BYTES) throw new UploadError("malformed", "Unexpected data after the closing boundary");
    }
    return files;
  } catch (error) {
    await reader.cancel().catch(() => {});
    throw toUploadError(error);
  } finally {
    reader.releaseLock();
  }
}

async function read(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<Uint8Array | null> {
  try {
    const { done, value } = await reader.read();
    return done ? null : value;
  } catch (error) {
    throw new UploadError("malformed", "The upload body could not be read", { cause: error });
  }
}

/** finish() throws unless the closing delimiter has been seen, and has no side effect. */
function isDone(parser: MultipartParser): boolean {
  try {
    parser.finish();
    return true;
  } catch {
    return false;
  }
}

function toFile(part: MultipartPart): UploadedFile {
  let filename: string | undefined;
  let field: string | undefined;
  try {
    filename = part.filename;
    field = part.name;
  } catch (error) {
    // Part headers are decoded as strict UTF-8.
    throw new UploadError("malformed", "A part has undecodable headers", { cause: error });
  }
  if (!filename) {
    throw new UploadError("missing-filename", `The part named ${JSON.stringify(field ?? "")} has no filename`);
  }
  return { filename, data: part.bytes };
}

function toUploadError(error: unknown): unknown {
  if (error instanceof UploadError) return error;
  if (error instanceof MaxPartsExceededError || error instanceof MaxTotalSizeExceededError) {
    return new UploadError("too-many-files", "Too many files", { cause: error });
  }
  if (error instanceof MaxFileSizeExceededError) return new UploadError("too-large-file", "Too large file", { cause: error });
  if (error instanceof MaxHeaderSizeExceededError) {
    return new UploadError("header-too-large", "A part's headers are too large", { cause: error });
  }
  if (error instanceof MultipartParseError) return new UploadError("malformed", error.message, { cause: error });
  return error;
}
