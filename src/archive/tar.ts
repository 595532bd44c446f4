// A streaming tar of a session subtree, like Docker's get_archive: entries are named from
// `name` (the basename of the path), directories come before their contents, symlinks are
// stored as symlinks. The stream is pull-driven end to end: nothing is read from the Vfs
// until the consumer asks, and tar-stream's backpressure (its readable buffer and each
// entry's writable buffer) keeps only a chunk or two in flight however large the files.

import { pack, type Header, type Pack } from "tar-stream";
import { VfsError, type Stat, type Vfs } from "../vfs/vfs.ts";
import { joinPath } from "../vfs/paths.ts";
import { primedRead } from "./primed.ts";

type EntrySink = ReturnType<Pack["entry"]>;
type EntryHeader = Partial<Header> & { name: string };

export function tarStream(vfs: Vfs, path: string, name: string): ReadableStream<Uint8Array> {
  const packer = pack();
  const chunks = packer[Symbol.asyncIterator]();
  let started = false;
  let stopped = false;
  let current: ReadableStreamDefaultReader<Uint8Array> | undefined;

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

  async function addFile(path: string, header: EntryHeader, size: number): Promise<void> {
    // A FIFO or socket a program made is left out (as GNU tar leaves sockets out), before its header is written.
    const content = await primedRead(vfs, path);
    if (!content) return;
    const reader = content.getReader();
    current = reader;
    if (stopped) {
      await reader.cancel().catch(() => {});
      throw stop;
    }
    const { sink, finished } = entry(header);
    try {
      let written = 0;
      while (written < size) {
        const { done, value } = await reader.read();
        if (stopped) throw stop;
        if (done) break;
        // The header already promised `size` bytes: a file that grew is cut there.
        const chunk = written + value.byteLength > size ? value.subarray(0, size - written) : value;
        written += chunk.byteLength;
        if (!sink.write(chunk)) await drained(sink);
        if (stopped) throw stop;
      }
      if (written < size) throw new Error(`${path} shrank while being archived`);
    } finally {
      current = undefined;
      await reader.cancel().catch(() => {});
    }
    sink.end(null);
    await finished;
  }

  async function add(path: string, entryName: string, stat: Stat): Promise<void> {
    if (stopped) throw stop;
    const base = { mode: stat.mode, mtime: new Date(stat.mtimeMs) };
    if (stat.kind === "dir") {
      await addVoid({ ...base, name: `${entryName}/`, type: "directory" });
      for (const child of await vfs.list(path)) {
        await add(joinPath(path, child.name), `${entryName}/${child.name}`, child);
      }
    } else if (stat.kind === "symlink") {
      const linkname = await vfs.readlink(path);
      await addVoid({ ...base, name: entryName, type: "symlink", linkname });
    } else {
      await addFile(path, { ...base, name: entryName, type: "file", size: stat.size }, stat.size);
    }
  }

  async function walk(): Promise<void> {
    const stat = await vfs.stat(path);
    if (!stat) throw new VfsError("ENOENT", path);
    await add(path, name, stat);
  }

  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (!started) {
          started = true;
          walk().then(
            () => packer.finalize(),
            (err: unknown) => {
              if (err !== stop) packer.destroy(err instanceof Error ? err : new Error(String(err)));
            },
          );
        }
        const { done, value } = await chunks.next();
        if (done) return controller.close();
        // A plain view, not a Node Buffer, so every runtime sees the same type.
        const chunk = value as Uint8Array;
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      },
      async cancel(reason) {
        stopped = true;
        packer.destroy();
        await current?.cancel(reason).catch(() => {});
      },
    },
    { highWaterMark: 0 },
  );
}
