// The fd-relative primitives of the disk Vfs: every name is resolved in a directory held
// open, through /proc/self/fd/<fd>/<name> (Node has no openat), never by a host path.

import { constants as C, lstatSync, promises as fsp } from "node:fs";
import type { Stats } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import type { Stat, VfsErrorCode } from "./vfs.ts";
import { VfsError } from "./vfs.ts";

export const PROC_FD = "/proc/self/fd";

export const DIR_FLAGS = C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW;
// O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused after fstat anyway).
export const READ_FLAGS = C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK;

/** errno codes that translate one to one (ENOSPC and EDQUOT become EQUOTA, see vfsError). */
const ERRNO_CODES: Record<string, VfsErrorCode> = {
  ENOENT: "ENOENT",
  EEXIST: "EEXIST",
  ENOTDIR: "ENOTDIR",
  EISDIR: "EISDIR",
  ENOTEMPTY: "ENOTEMPTY",
  ELOOP: "ESYMLINK",
  EINVAL: "EINVAL",
  ENAMETOOLONG: "EINVAL",
  ENXIO: "EINVAL", // a socket, or a FIFO opened for writing with no reader
};

/** A name in the directory open as `dir`: the kernel resolves the fd itself, not a path. */
export function at(dir: FileHandle, name: string): string;
/** The same for a name as raw bytes: Linux names need not be UTF-8. */
export function at(dir: FileHandle, name: Buffer): Buffer;
export function at(dir: FileHandle, name: string | Buffer): string | Buffer;
export function at(dir: FileHandle, name: string | Buffer): string | Buffer {
  const prefix = `${PROC_FD}/${dir.fd}/`;
  return typeof name === "string" ? prefix + name : Buffer.concat([Buffer.from(prefix), name]);
}

/**
 * Names in `dir` as raw bytes, for walks that must see every entry: a name that is not
 * UTF-8 comes back from a string readdir with U+FFFD in it and then names nothing.
 */
export async function rawNamesOf(dir: FileHandle): Promise<Buffer[]> {
  try {
    return await fsp.readdir(`${PROC_FD}/${dir.fd}`, { encoding: "buffer" });
  } catch (e) {
    if (errno(e) === "ENOENT") return [];
    throw e;
  }
}

/** Names in the directory open as `dir`; none when it has been deleted since we opened it. */
export async function readdirOf(dir: FileHandle): Promise<string[]> {
  try {
    return await fsp.readdir(`${PROC_FD}/${dir.fd}`);
  } catch (e) {
    if (errno(e) === "ENOENT") return [];
    throw e;
  }
}

export function errno(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** Translates a host error; errors with no session meaning (EACCES, EMFILE, EIO…) pass through. */
export function vfsError(e: unknown, path: string): unknown {
  if (e instanceof VfsError) return e;
  if (errno(e) === "ENOSPC" || errno(e) === "EDQUOT") {
    return new VfsError("EQUOTA", path, `EQUOTA: the session's filesystem is full (${path === "" ? "/" : path})`);
  }
  const code = ERRNO_CODES[errno(e) ?? ""];
  return code ? new VfsError(code, path) : e;
}

/**
 * Why a directory could not be opened with O_DIRECTORY|O_NOFOLLOW: Linux says ENOTDIR
 * for both a file and a symlink, so an lstat through the same fd tells them apart.
 */
export async function explainDirError(e: unknown, dir: FileHandle, name: string, path: string): Promise<unknown> {
  if (errno(e) !== "ENOTDIR" && errno(e) !== "ELOOP") return vfsError(e, path);
  const st = await lstatAt(dir, name).catch(() => null);
  return new VfsError(st?.isSymbolicLink() ? "ESYMLINK" : "ENOTDIR", path);
}

/** lstat of a name in a directory fd; null when it is not there. */
export async function lstatAt(dir: FileHandle, name: string | Buffer): Promise<Stats | null> {
  try {
    return await fsp.lstat(at(dir, name));
  } catch (e) {
    if (errno(e) === "ENOENT") return null;
    throw vfsError(e, name.toString());
  }
}

/** The same, synchronously. */
export function lstatAtSync(dir: FileHandle, name: string): Stats | null {
  try {
    return lstatSync(at(dir, name), { throwIfNoEntry: false }) ?? null;
  } catch (e) {
    throw vfsError(e, name);
  }
}

export async function unlinkAt(dir: FileHandle, name: string, path: string): Promise<void> {
  try {
    await fsp.unlink(at(dir, name));
  } catch (e) {
    throw vfsError(e, path);
  }
}

export function toStat(st: Stats): Stat {
  // FIFOs, sockets and devices (which only session programs can make) show as files;
  // reading them is refused.
  const kind = st.isDirectory() ? "dir" : st.isSymbolicLink() ? "symlink" : "file";
  return {
    kind,
    size: st.size,
    mode: st.mode & 0o7777,
    atimeMs: st.atimeMs,
    mtimeMs: st.mtimeMs,
    ctimeMs: st.ctimeMs,
  };
}

export function notRegular(path: string): VfsError {
  return new VfsError("EINVAL", path, `EINVAL: not a regular file: ${path}`);
}
