// A session directory held open as an fd, for walks: each child is opened relative to it
// (O_NOFOLLOW, through /proc/self/fd), so a walk never resolves a path from the root
// again and a directory swapped for a symlink meanwhile cannot steer it anywhere else.

import { closeSync, fstatSync, lstatSync, openSync, promises as fsp, readSync, type Stats } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import type { DirEntry, DirHandle, FileReader, Stat } from "./vfs.ts";
import { VfsError } from "./vfs.ts";
import { at, DIR_FLAGS, explainDirError, lstatAt, lstatAtSync, READ_FLAGS, readdirOf, toStat, vfsError } from "./disk-fd.ts";
import { joinPath } from "./paths.ts";
import { compareNames } from "./shared.ts";

export class DiskDir implements DirHandle {
  /** What list() found, by name: openFile's look before opening, as a walk opens what it listed. */
  private listed = new Map<string, Stats>();

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
    // One lstat after another, synchronously: each is a few microseconds, where a promise
    // per name on the thread pool costs ten times that in all.
    const stats = names.map((name) => lstatAtSync(this.dir, name));
    const entries: DirEntry[] = [];
    this.listed.clear();
    names.forEach((name, i) => {
      const st = stats[i];
      if (!st) return; // removed since readdir
      entries.push({ name, ...toStat(st) });
      this.listed.set(name, st);
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
    return openRegular(this.dir, name, joinPath(this.path, name), this.listed.get(name));
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

/**
 * A regular file open for reading, as a plain fd read synchronously. Node's FileHandle costs
 * a thread-pool round trip for every open, fstat, read and close, which for an archive of
 * many small files was most of its time (and on 2 busy cores, the hand-offs between threads
 * cost more than the copies). A read of a regular file never waits on a program, only on the
 * disk, and archives read at most CHUNK_BYTES (tar.ts) at a time, so the event loop is held
 * for tens of microseconds from the page cache, a disk read's latency when it is cold.
 */
export class DiskFileReader implements FileReader {
  private closed = false;

  constructor(
    private readonly fd: number,
    readonly stat: Stat,
  ) {}

  async read(into: Uint8Array): Promise<number> {
    if (this.closed) throw new Error("read after close");
    return readSync(this.fd, into, 0, into.byteLength, null);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}

/**
 * Opens `name` in `dir` for reading if it is a regular file; null when it is a FIFO, socket
 * or device (never read). ENOENT / ESYMLINK / EISDIR. Synchronous, as the reads: lstat, open
 * and fstat of one name take microseconds and none of them waits on a program (O_NONBLOCK,
 * O_NOFOLLOW), where three thread-pool round trips cost 50-150 µs on a busy machine.
 * `looked`: an lstat of the name made just before, which saves making another.
 */
export function openRegular(dir: FileHandle, name: string, path: string, looked?: Stats): DiskFileReader | null {
  const where = at(dir, name);
  let fd: number;
  try {
    // Look before opening: opening a device or FIFO can have effects of its own. Whatever
    // was swapped in since the look, the fstat below decides.
    if (!regular(looked ?? lstatSync(where), path)) return null;
    fd = openSync(where, READ_FLAGS);
  } catch (e) {
    throw vfsError(e, path);
  }
  try {
    const opened = fstatSync(fd);
    if (regular(opened, path)) return new DiskFileReader(fd, toStat(opened)); // it may have been swapped since the lstat
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  closeSync(fd);
  return null;
}

/** Whether a file can be read: false for a FIFO, socket or device, VfsErrors for links and directories. */
function regular(st: Stats, path: string): boolean {
  if (st.isSymbolicLink()) throw new VfsError("ESYMLINK", path);
  if (st.isDirectory()) throw new VfsError("EISDIR", path);
  return st.isFile();
}
