// A session directory held open as an fd, for walks: each child is opened relative to it
// (O_NOFOLLOW, through /proc/self/fd), so a walk never resolves a path from the root
// again and a directory swapped for a symlink meanwhile cannot steer it anywhere else.

import { promises as fsp, type Stats } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import type { DirEntry, DirHandle, FileReader, Stat } from "./vfs.ts";
import { VfsError } from "./vfs.ts";
import { at, DIR_FLAGS, explainDirError, lstatAt, READ_FLAGS, readdirOf, toStat, vfsError } from "./disk-fd.ts";
import { joinPath } from "./paths.ts";
import { compareNames } from "./shared.ts";

export class DiskDir implements DirHandle {
  /** `path` is the directory's session path, for error messages. The handle is the DiskDir's to close. */
  constructor(
    private readonly dir: FileHandle,
    private readonly path: string,
  ) {}

  async stat(name: string): Promise<Stat | null> {
    const st = await lstatAt(this.dir, name);
    return st ? toStat(st) : null;
  }

  async list(): Promise<DirEntry[]> {
    const names = (await readdirOf(this.dir)).sort(compareNames);
    const stats = await Promise.all(names.map((name) => lstatAt(this.dir, name)));
    const entries: DirEntry[] = [];
    names.forEach((name, i) => {
      const st = stats[i];
      if (st) entries.push({ name, ...toStat(st) }); // null: removed since readdir
    });
    return entries;
  }

  async openDir(name: string): Promise<DirHandle> {
    const path = joinPath(this.path, name);
    try {
      return new DiskDir(await fsp.open(at(this.dir, name), DIR_FLAGS), path);
    } catch (e) {
      throw await explainDirError(e, this.dir, name, path);
    }
  }

  async openFile(name: string): Promise<FileReader | null> {
    const opened = await openFileAt(this.dir, name, joinPath(this.path, name));
    return opened && new DiskFileReader(opened.file, toStat(opened.st));
  }

  async readlink(name: string): Promise<string> {
    try {
      return await fsp.readlink(at(this.dir, name));
    } catch (e) {
      throw vfsError(e, joinPath(this.path, name));
    }
  }

  close(): Promise<void> {
    return this.dir.close();
  }
}

class DiskFileReader implements FileReader {
  constructor(
    private readonly file: FileHandle,
    readonly stat: Stat,
  ) {}

  async read(into: Uint8Array): Promise<number> {
    const { bytesRead } = await this.file.read(into, 0, into.byteLength, null);
    return bytesRead;
  }

  close(): Promise<void> {
    return this.file.close();
  }
}

/**
 * Opens `name` in `dir` for reading if it is a regular file, with its fstat; null when it
 * is a FIFO, socket or device (never read). ENOENT / ESYMLINK / EISDIR.
 */
export async function openFileAt(dir: FileHandle, name: string, path: string): Promise<{ file: FileHandle; st: Stats } | null> {
  // Look before opening: opening a device or FIFO can have effects of its own.
  const st = await lstatAt(dir, name);
  if (!st) throw new VfsError("ENOENT", path);
  if (!regular(st, path)) return null;
  let file: FileHandle;
  try {
    file = await fsp.open(at(dir, name), READ_FLAGS);
  } catch (e) {
    throw vfsError(e, path);
  }
  try {
    const opened = await file.stat();
    if (regular(opened, path)) return { file, st: opened }; // it may have been swapped since the lstat
  } catch (e) {
    await file.close();
    throw e;
  }
  await file.close();
  return null;
}

/** Whether a file can be read: false for a FIFO, socket or device, VfsErrors for links and directories. */
function regular(st: Stats, path: string): boolean {
  if (st.isSymbolicLink()) throw new VfsError("ESYMLINK", path);
  if (st.isDirectory()) throw new VfsError("EISDIR", path);
  return st.isFile();
}
