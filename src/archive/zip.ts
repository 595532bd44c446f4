// A streamed zip of several session paths. zip.js writes into a TransformStream whose
// readable side we hand out through our own pull-driven stream: zip.js awaits each write,
// so the consumer's pace drives how fast files are read and deflated, and only the entry
// being written is open. Symlinks are stored the Info-ZIP way (Unix mode S_IFLNK, the
// target as content), which `unzip` restores as links and others extract as small files.

import { configure, ZipWriter, type ZipWriterAddDataOptions } from "@zip.js/zip.js";
import { VfsError, type Stat, type Vfs } from "../vfs/vfs.ts";
import { joinPath } from "../vfs/paths.ts";
import { primedRead } from "./primed.ts";

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

export function zipStream(vfs: Vfs, entries: ZipEntrySource[]): ReadableStream<Uint8Array> {
  const pipe = new TransformStream<Uint8Array, Uint8Array>();
  const output = pipe.readable.getReader();
  const abort = new AbortController();
  let started = false;
  let stopped = false;
  let failure: unknown;
  let current: ReadableStreamDefaultReader<Uint8Array> | undefined;

  // The file's content as zip.js will read it: we keep the Vfs reader so a cancel can release it.
  function source(content: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
    const reader = content.getReader();
    current = reader;
    return new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          const { done, value } = await reader.read();
          if (done) {
            current = undefined;
            controller.close();
          } else controller.enqueue(value);
        },
        cancel(reason) {
          current = undefined;
          return reader.cancel(reason);
        },
      },
      { highWaterMark: 0 },
    );
  }

  async function add(writer: ZipWriter<unknown>, path: string, name: string, stat: Stat): Promise<void> {
    if (stopped) return;
    const options: ZipWriterAddDataOptions = { lastModDate: new Date(stat.mtimeMs), signal: abort.signal };
    if (stat.kind === "dir") {
      await writer.add(`${name}/`, null, { ...options, directory: true, unixMode: stat.mode });
      for (const child of await vfs.list(path)) {
        await add(writer, joinPath(path, child.name), `${name}/${child.name}`, child);
      }
    } else if (stat.kind === "symlink") {
      const target = encoder.encode(await vfs.readlink(path));
      const content = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(target);
          controller.close();
        },
      });
      await writer.add(name, content, { ...options, unixMode: S_IFLNK | 0o777, level: 0, uncompressedSize: target.byteLength });
    } else {
      // A FIFO or socket a program made is left out, before zip.js writes its local header.
      const content = await primedRead(vfs, path);
      if (!content) return;
      await writer.add(name, source(content), {
        ...options,
        unixMode: S_IFREG | stat.mode,
        uncompressedSize: stat.size,
        zip64: stat.size >= ZIP64_FROM,
      });
    }
  }

  async function run(): Promise<void> {
    const writer = new ZipWriter(pipe.writable);
    for (const entry of entries) {
      if (stopped) return;
      const stat = await vfs.stat(entry.path);
      if (!stat) throw new VfsError("ENOENT", entry.path);
      await add(writer, entry.path, entry.name, stat);
    }
    if (!stopped) await writer.close();
  }

  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (!started) {
          started = true;
          run().catch(async (error: unknown) => {
            if (stopped) return;
            failure = error;
            await current?.cancel(error).catch(() => {});
            // Unblocks the pending read below with the error; the writable may be locked by zip.js.
            await output.cancel(error).catch(() => {});
          });
        }
        const { done, value } = await output.read();
        if (failure !== undefined) throw failure;
        if (done) controller.close();
        else controller.enqueue(value);
      },
      async cancel(reason) {
        stopped = true;
        abort.abort(reason);
        await current?.cancel(reason).catch(() => {});
        await output.cancel(reason).catch(() => {});
      },
    },
    { highWaterMark: 0 },
  );
}
