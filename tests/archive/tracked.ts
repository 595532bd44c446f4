// A real Vfs seen through a window: it records what the archive writers open, read and
// close through the directory handles (openDir), so tests can assert that reads stay close
// to the consumer and that every handle is closed after a cancel.

import type { DirHandle, FileReader, Vfs } from "../../src/vfs/vfs.ts";

export interface OpenedFile {
  name: string;
  closed: boolean;
}

export interface Tracked {
  vfs: Vfs;
  /** Files opened through a directory handle, in order. */
  files: OpenedFile[];
  /** Directory handles open now. */
  openDirs(): number;
  bytesRead(): number;
}

export function tracked(vfs: Vfs, onOpenFile?: (name: string) => void): Tracked {
  const files: OpenedFile[] = [];
  let dirs = 0;
  let bytes = 0;

  const file = (inner: FileReader, record: OpenedFile): FileReader => ({
    stat: inner.stat,
    async read(into) {
      const n = await inner.read(into);
      bytes += n;
      return n;
    },
    async close() {
      record.closed = true;
      await inner.close();
    },
  });

  const dir = (inner: DirHandle): DirHandle => {
    dirs++;
    let closed = false;
    return {
      stat: (name) => inner.stat(name),
      list: () => inner.list(),
      readlink: (name) => inner.readlink(name),
      openDir: async (name) => dir(await inner.openDir(name)),
      async openFile(name) {
        onOpenFile?.(name);
        const opened = await inner.openFile(name);
        if (!opened) return null;
        const record = { name, closed: false };
        files.push(record);
        return file(opened, record);
      },
      async close() {
        if (!closed) dirs--;
        closed = true;
        await inner.close();
      },
    };
  };

  const proxy: Vfs = Object.create(vfs);
  proxy.openDir = async (path) => dir(await vfs.openDir(path));
  return { vfs: proxy, files, openDirs: () => dirs, bytesRead: () => bytes };
}
