// A streaming tar of a session subtree, like Docker's get_archive: entries are named from
// `name` (the basename of the path), directories come before their contents, symlinks are
// stored as symlinks; the tree comes from walk.ts. The stream is pull-driven end to end:
// nothing is read from the Vfs until the consumer asks, and tar-stream's backpressure (its
// readable buffer and each entry's writable buffer) keeps only a chunk or two in flight
// however large the files.

import { pack, type Header, type Pack } from "tar-stream";
import type { FileReader, Vfs } from "../vfs/vfs.ts";
import { walkTree } from "./walk.ts";

/** Bytes read from a file at a time. */
const CHUNK_BYTES = 64 * 1024;

type EntrySink = ReturnType<Pack["entry"]>;
type EntryHeader = Partial<Header> & { name: string };

export function tarStream(vfs: Vfs, path: string, name: string): ReadableStream<Uint8Array> {
  const packer = pack();
  const chunks = packer[Symbol.asyncIterator]();
  let walking: Promise<void> | undefined;
  let stopped = false;

  const stop = new Error("tar stream cancelled");

  // Each entry reports its outcome through the callback; the pack's destruction also
  // destroys the entry with the error, which must not surface as an unhandled 'error' event.
  function entry(header: EntryHeader): { sink: EntrySink; finished: Promise<void> } {
    let sink!: EntrySink;
    const finished = new Promise<void>((resolve, reject) => {
      sink = packer.entry(header, (err) => (err ? reject(err) : resolve()));
    });
    sink.on("error", () => {});
    finished.catch(() => {});
    return { sink, finished };
  }

  // Adds one entry with no body (directory, symlink) and waits until tar-stream has written it.
  function addVoid(header: EntryHeader): Promise<void> {
    const { sink, finished } = entry(header);
    sink.end(null);
    return finished;
  }

  function drained(sink: EntrySink): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        sink.off("drain", done);
        sink.off("close", done);
        resolve();
      };
      sink.on("drain", done);
      sink.on("close", done);
    });
  }

  async function addFile(file: FileReader, header: EntryHeader, size: number): Promise<void> {
    const { sink, finished } = entry(header);
    let written = 0;
    while (written < size) {
      const chunk = new Uint8Array(Math.min(CHUNK_BYTES, size - written));
      const n = await file.read(chunk);
      if (stopped) throw stop;
      // The header promised `size` bytes: a file that grew is cut there, one that shrank fails.
      if (n === 0) throw new Error(`${header.name} shrank while being archived`);
      written += n;
      if (!sink.write(n === chunk.byteLength ? chunk : chunk.subarray(0, n))) await drained(sink);
      if (stopped) throw stop;
    }
    sink.end(null);
    await finished;
  }

  async function walk(): Promise<void> {
    for await (const item of walkTree(vfs, path, name)) {
      if (stopped) {
        if (item.kind === "file") await item.file.close();
        throw stop;
      }
      const base = { mode: item.stat.mode, mtime: new Date(item.stat.mtimeMs) };
      if (item.kind === "dir") {
        await addVoid({ ...base, name: `${item.name}/`, type: "directory" });
      } else if (item.kind === "symlink") {
        await addVoid({ ...base, name: item.name, type: "symlink", linkname: item.target });
      } else {
        try {
          await addFile(item.file, { ...base, name: item.name, type: "file", size: item.stat.size }, item.stat.size);
        } finally {
          await item.file.close();
        }
      }
    }
  }

  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        walking ??= walk().then(
          () => packer.finalize(),
          (err: unknown) => {
            if (err !== stop) packer.destroy(err instanceof Error ? err : new Error(String(err)));
          },
        );
        const { done, value } = await chunks.next();
        if (done) return controller.close();
        // A plain view, not a Node Buffer, so every runtime sees the same type.
        const chunk = value as Uint8Array;
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      },
      async cancel() {
        stopped = true;
        packer.destroy();
        // Resolves once the walk has closed every file and directory it held.
        await walking;
      },
    },
    { highWaterMark: 0 },
  );
}
