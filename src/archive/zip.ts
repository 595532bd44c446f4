// A streamed zip of several session paths. zip.js writes into a TransformStream whose
// readable side we hand out through our own pull-driven stream: zip.js awaits each write,
// so the consumer's pace drives how fast files are read and deflated, and besides the walk's
// directory handles (walk.ts) only the file being written is open. Symlinks are stored the
// Info-ZIP way (Unix mode S_IFLNK, the target as content), which `unzip` restores as links
// and others extract as small files.

import { configure, ZipWriter, type ZipWriterAddDataOptions } from "@zip.js/zip.js";
import type { FileReader, Vfs } from "../vfs/vfs.ts";
import { readExactly, walkTree, type WalkEntry } from "./walk.ts";

// Workers would need a bundled worker script on every runtime; compression runs inline instead.
configure({ useWebWorkers: false });

const S_IFLNK = 0o120000;
const S_IFREG = 0o100000;
// Entries of this size or more are written as Zip64 up front: deflating incompressible data
// can grow it a little, and a size crossing 4 GiB in a non-Zip64 entry fails mid-stream.
const ZIP64_FROM = 2 ** 32 - 2 ** 26;

const encoder = new TextEncoder();

export interface ZipEntrySource {
  /** Session path of a file, directory or symlink. */
  path: string;
  /** Its name in the archive; a directory's contents go under `name/`. */
  name: string;
}

/** Bytes read from a file at a time. */
const CHUNK_BYTES = 256 * 1024;

/** The file's `size` bytes as zip.js reads them (it promised that size in the header). */
function fileContent(file: FileReader, name: string, size: number): ReadableStream<Uint8Array> {
  let left = size;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (left === 0) return controller.close();
        // Not zero-filled: the read fills it all.
        const chunk = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, left));
        await readExactly(file, chunk, name);
        left -= chunk.byteLength;
        controller.enqueue(chunk);
      },
    },
    { highWaterMark: 0 },
  );
}

export function zipStream(vfs: Vfs, entries: ZipEntrySource[]): ReadableStream<Uint8Array> {
  const pipe = new TransformStream<Uint8Array, Uint8Array>();
  const output = pipe.readable.getReader();
  const abort = new AbortController();
  let running: Promise<void> | undefined;
  let stopped = false;
  let failure: unknown;

  async function add(writer: ZipWriter<unknown>, item: WalkEntry): Promise<void> {
    const options: ZipWriterAddDataOptions = { lastModDate: new Date(item.stat.mtimeMs), signal: abort.signal };
    if (item.kind === "dir") {
      await writer.add(`${item.name}/`, null, { ...options, directory: true, unixMode: item.stat.mode });
    } else if (item.kind === "symlink") {
      const target = encoder.encode(item.target);
      const content = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(target);
          controller.close();
        },
      });
      await writer.add(item.name, content, { ...options, unixMode: S_IFLNK | 0o777, level: 0, uncompressedSize: target.byteLength });
    } else {
      const { size } = item.stat;
      await writer.add(item.name, fileContent(item.file, item.name, size), {
        ...options,
        unixMode: S_IFREG | item.stat.mode,
        uncompressedSize: size,
        zip64: size >= ZIP64_FROM,
      });
    }
  }

  async function run(): Promise<void> {
    const writer = new ZipWriter(pipe.writable);
    for (const entry of entries) {
      for await (const item of walkTree(vfs, entry.path, entry.name)) {
        try {
          if (stopped) return;
          await add(writer, item);
        } finally {
          if (item.kind === "file") await item.file.close();
        }
      }
    }
    if (!stopped) await writer.close();
  }

  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        running ??= run().catch(async (error: unknown) => {
          if (stopped) return;
          failure = error;
          // Unblocks the pending read below with the error; the writable may be locked by zip.js.
          await output.cancel(error).catch(() => {});
        });
        const { done, value } = await output.read();
        if (failure !== undefined) throw failure;
        if (done) controller.close();
        else controller.enqueue(value);
      },
      async cancel(reason) {
        stopped = true;
        abort.abort(reason);
        await output.cancel(reason).catch(() => {});
        // Resolves once the walk has closed every file and directory it held.
        await running;
      },
    },
    { highWaterMark: 0 },
  );
}
