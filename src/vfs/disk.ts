// A session filesystem in a host directory, bind-mounted into the session's container.
//
// Programs in the session can create symlinks and swap directories for symlinks at
// any moment, and this server runs as root, so no operation here may ever follow a
// symlink inside the session, nor resolve a session path more than once. Node has no
// openat(2), so every step goes through /proc/self/fd: open the root as a directory,
// open each component with O_NOFOLLOW relative to the previous directory's fd via
// `/proc/self/fd/<fd>/<name>` (the kernel resolves the fd to the directory itself,
// whatever has been renamed since), and do the final operation the same way with a
// syscall that does not follow its last component (lstat, readlink, mkdir, unlink,
// rmdir, rename, open with O_NOFOLLOW).
//
// Programs also write into the directory directly, past the Vfs and its quota checks.
// With `filesystem: "loop"` the directory is an ext4 filesystem of its own, in a sparse
// image file beside it sized to the quota, so those writes end in ENOSPC at the quota
// instead of filling the host's disk.

import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { constants as C, promises as fsp } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import type { Stats } from "node:fs";
import type { DirEntry, DirHandle, FileWrite, Quota, Stat, Usage, Vfs } from "./vfs.ts";
import { VfsError } from "./vfs.ts";
import { DiskDir, openRegular, type DiskFileReader } from "./disk-dir.ts";
import { at, DIR_FLAGS, errno, explainDirError, lstatAt, notRegular, PROC_FD, rawNamesOf, toStat, unlinkAt, vfsError } from "./disk-fd.ts";
import { checkBatchConflicts, DEFAULT_QUOTA, splitChild, splitPath } from "./shared.ts";

const CHUNK_BYTES = 64 * 1024;
const FILE_MODE = 0o644;
const DIR_MODE = 0o755;

const CREATE_FLAGS = C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW;
const APPEND_FLAGS = C.O_WRONLY | C.O_APPEND | C.O_NOFOLLOW | C.O_NONBLOCK;

/** writeFiles' staging directories in the session root: `${STAGING_PREFIX}<24 hex digits>`. */
const STAGING_PREFIX = ".kiln-staging-";

const MiB = 1024 * 1024;
/** Block size of session filesystems. */
const FS_BLOCK = 4096;
/** ext4's inode size, which the inode tables take per inode. */
const FS_INODE = 256;
/** Inodes beyond the quota's entries: the root, a staging directory, ext4's reserved ones. */
const SPARE_INODES = 64;
/**
 * No journal (session files do not outlive a crash), no reserve for root (programs run as
 * a user), no room to grow; inode tables are left unwritten: the image is fresh and
 * sparse, so they read as zeros, and writing them would take host disk for nothing.
 */
const MKFS_ARGS = ["-q", "-F", "-b", String(FS_BLOCK), "-I", String(FS_INODE), "-m", "0", "-O", "^has_journal,^resize_inode", "-E", "lazy_itable_init=1,nodiscard"];
/** noinit_itable: nor does the kernel zero the inode tables in the background. */
const MOUNT_OPTIONS = "loop,nosuid,nodev,noinit_itable";
/** Image names the sweep recognises: `${root}.${tag}.img`, for roots without a dot in their name. */
const IMAGE_NAME = /^([^.]+)\.([A-Za-z0-9._-]+)\.img$/;
const IMAGE_TAG = /^[A-Za-z0-9._-]{1,128}$/;

export interface DiskVfsOptions {
  quota?: Quota;
  /** Host uid/gid that created files and directories are given (the session's user). */
  owner?: { uid: number; gid: number };
  /**
   * "loop": the root is an ext4 filesystem in a sparse image `${root}.${imageTag}.img`
   * (mode 0600) sized to the quota and loop-mounted nosuid,nodev. Needs root, mkfs.ext4
   * and mount(8); create() fails when they do. Default "directory": a plain directory.
   */
  filesystem?: "directory" | "loop";
  /** Names whose image it is, e.g. the server's instance id, for sweepImages after a crash. */
  imageTag?: string;
}

export class DiskVfs implements Vfs {
  readonly kind = "disk";
  readonly hostRoot: string;
  /** The loop filesystem's image file; null for a plain directory. */
  readonly image: string | null;
  private readonly quota: Quota;
  private readonly owner: { uid: number; gid: number } | undefined;
  /** The tail of the quota-checked writes, which run one at a time (see serialized). */
  private writing: Promise<unknown> = Promise.resolve();

  constructor(root: string, options?: DiskVfsOptions) {
    this.hostRoot = resolve(root);
    this.quota = options?.quota ?? DEFAULT_QUOTA;
    this.owner = options?.owner;
    const tag = options?.imageTag;
    if (tag !== undefined && !IMAGE_TAG.test(tag)) throw new Error(`invalid image tag ${JSON.stringify(tag)}`);
    this.image = options?.filesystem === "loop" ? `${this.hostRoot}${tag ? `.${tag}` : ""}.img` : null;
  }

  /**
   * Creates the session directory (mode 0o755, owned by `owner` if given), with its
   * filesystem when asked for one, and the Vfs over it; on failure leaves nothing behind.
   */
  static async create(root: string, options?: DiskVfsOptions): Promise<DiskVfs> {
    // Without /proc every fd path would fail with ENOENT and be taken for a missing file.
    await fsp.access(PROC_FD);
    const vfs = new DiskVfs(root, options);
    // The data directory is made on first use, private to the server.
    await fsp.mkdir(dirname(vfs.hostRoot), { recursive: true, mode: 0o700 });
    await fsp.mkdir(vfs.hostRoot, { mode: DIR_MODE });
    const imagePath = vfs.image;
    let image: FileHandle | null;
    try {
      // wx: a new image, never one (or a symlink) that was there already.
      image = imagePath ? await fsp.open(imagePath, "wx", 0o600) : null;
    } catch (error) {
      await fsp.rmdir(vfs.hostRoot);
      throw error;
    }
    try {
      if (imagePath && image) await vfs.mountFilesystem(imagePath, image);
      const dir = await fsp.open(vfs.hostRoot, DIR_FLAGS);
      try {
        await vfs.own(dir, DIR_MODE);
      } finally {
        await dir.close();
      }
    } catch (error) {
      await vfs.destroy().catch(() => undefined);
      throw error;
    }
    return vfs;
  }

  /**
   * Removes what crashed servers left in `dataDir`: every image `${root}.${tag}.img`
   * whose tag `isStale` says belongs to a dead owner, with its root (unmounted first).
   * Returns the images removed; one that can't be is left for the next sweep.
   */
  static async sweepImages(dataDir: string, isStale: (tag: string) => boolean): Promise<string[]> {
    let names: string[];
    try {
      names = await fsp.readdir(dataDir);
    } catch (e) {
      if (errno(e) === "ENOENT") return [];
      throw e;
    }
    const removed: string[] = [];
    for (const name of names) {
      const match = IMAGE_NAME.exec(name);
      if (!match || !isStale(match[2]!)) continue;
      const root = join(dataDir, match[1]!);
      try {
        await unmount(root);
        await removeTree(root);
        await fsp.rm(join(dataDir, name), { force: true });
        removed.push(join(dataDir, name));
      } catch {
        // Still busy, say: the next start tries again.
      }
    }
    return removed;
  }

  async stat(path: string): Promise<Stat | null> {
    const parts = splitPath(path);
    const name = parts.pop();
    try {
      return await this.inDir(parts, path, async (dir) => {
        const st = name === undefined ? await dir.stat() : await lstatAt(dir, name);
        return st ? toStat(st) : null;
      });
    } catch (e) {
      if (e instanceof VfsError && e.code === "ENOENT") return null;
      throw e;
    }
  }

  async list(path: string): Promise<DirEntry[]> {
    const dir = await this.openDir(path);
    try {
      return await dir.list();
    } finally {
      await dir.close();
    }
  }

  async openDir(path: string): Promise<DirHandle> {
    return new DiskDir(await this.openDirAt(splitPath(path), path), path);
  }

  async readFile(path: string): Promise<Uint8Array> {
    const file = await this.openFile(path);
    try {
      return await readToEnd(file);
    } finally {
      await file.close();
    }
  }

  openRead(path: string): ReadableStream<Uint8Array> {
    // Opened on the first read, so an unread stream holds no fd.
    let file: DiskFileReader | null = null;
    const close = async () => {
      const open = file;
      file = null;
      await open?.close();
    };
    return new ReadableStream<Uint8Array>(
      {
        pull: async (controller) => {
          try {
            file ??= await this.openFile(path);
            const buffer = new Uint8Array(CHUNK_BYTES);
            const bytesRead = await file.read(buffer);
            if (bytesRead === 0) {
              await close();
              controller.close();
            } else {
              controller.enqueue(bytesRead === CHUNK_BYTES ? buffer : buffer.slice(0, bytesRead));
            }
          } catch (e) {
            await close();
            throw e;
          }
        },
        cancel: close,
      },
      { highWaterMark: 0 },
    );
  }

  async readlink(path: string): Promise<string> {
    const { parents, name } = splitChild(path);
    return this.inDir(parents, path, async (dir) => {
      try {
        return await fsp.readlink(at(dir, name));
      } catch (e) {
        throw vfsError(e, path);
      }
    });
  }

  writeFiles(files: FileWrite[]): Promise<void> {
    return this.serialized(() => this.writeFilesNow(files));
  }

  appendFile(path: string, data: Uint8Array): Promise<void> {
    return this.serialized(() => this.appendFileNow(path, data));
  }

  mkdir(path: string, options?: { parents?: boolean }): Promise<void> {
    return this.serialized(() => this.mkdirNow(path, options));
  }

  /**
   * Runs the writes that check the quota one at a time: each checks usage, then writes
   * after awaits, so two running side by side would both pass a check only one fits.
   */
  private serialized<T>(write: () => Promise<T>): Promise<T> {
    const result = this.writing.then(write);
    this.writing = result.catch(() => undefined);
    return result;
  }

  private async writeFilesNow(files: FileWrite[]): Promise<void> {
    // The last write of a path wins, as if the batch were applied in order.
    const batch = new Map<string, FileWrite>();
    for (const file of files) batch.set(file.path, file);
    if (batch.size === 0) return;

    const newDirs = new Set<string>();
    let newFiles = 0;
    let delta = 0;
    for (const [path, file] of batch) {
      const { parents, name } = splitChild(path);
      const existing = await this.probeTarget(parents, name, path, newDirs);
      if (existing?.isDirectory()) throw new VfsError("EISDIR", path);
      if (existing?.isSymbolicLink()) throw new VfsError("ESYMLINK", path);
      if (existing) delta -= existing.isFile() ? existing.size : 0;
      else newFiles++;
      delta += file.data.byteLength;
    }
    checkBatchConflicts(batch.keys());
    await this.checkQuota(delta, newFiles + newDirs.size, files[0]?.path ?? "");

    await this.withStaging(async (staging) => {
      const staged = await this.stageAll(staging, [...batch.values()]);
      await this.commit(staging, staged);
    });
  }

  private async appendFileNow(path: string, data: Uint8Array): Promise<void> {
    const { parents, name } = splitChild(path);
    const newDirs = new Set<string>();
    const existing = await this.probeTarget(parents, name, path, newDirs);
    if (existing?.isDirectory()) throw new VfsError("EISDIR", path);
    if (existing?.isSymbolicLink()) throw new VfsError("ESYMLINK", path);
    if (existing && !existing.isFile()) throw notRegular(path);
    await this.checkQuota(data.byteLength, newDirs.size + (existing ? 0 : 1), path);

    await this.inDir(parents, path, async (dir) => {
      const file = await this.openForAppend(dir, name, path);
      try {
        await writeAll(file, data).catch((e) => {
          throw vfsError(e, path);
        });
      } finally {
        await file.close();
      }
    }, true);
  }

  private async mkdirNow(path: string, options?: { parents?: boolean }): Promise<void> {
    const parts = splitPath(path);
    const parents = options?.parents ?? false;
    const name = parts.pop();
    if (name === undefined) {
      if (!parents) throw new VfsError("EEXIST", path);
      await this.inDir([], path, async () => undefined);
      return;
    }
    const newDirs = new Set<string>();
    const existing = await this.probeTarget(parts, name, path, newDirs);
    if (!parents && newDirs.size > 0) throw new VfsError("ENOENT", path);
    if (existing) {
      if (parents && existing.isDirectory()) return;
      // mkdir -p would follow a symlink to a directory; we never do.
      throw new VfsError(parents && existing.isSymbolicLink() ? "ESYMLINK" : "EEXIST", path);
    }
    await this.checkQuota(0, newDirs.size + 1, path);

    await this.inDir(parts, path, async (dir) => {
      try {
        await fsp.mkdir(at(dir, name), DIR_MODE);
      } catch (e) {
        throw vfsError(e, path);
      }
      await this.ownDirAt(dir, name, path);
    }, parents);
  }

  async rm(path: string, options?: { recursive?: boolean; force?: boolean }): Promise<void> {
    const { parents, name } = splitChild(path);
    try {
      await this.inDir(parents, path, async (dir) => {
        const st = await lstatAt(dir, name);
        if (!st) throw new VfsError("ENOENT", path);
        if (!st.isDirectory()) return unlinkAt(dir, name, path);
        if (options?.recursive) return removeEntry(dir, Buffer.from(name));
        try {
          await fsp.rmdir(at(dir, name));
        } catch (e) {
          throw vfsError(e, path);
        }
      });
    } catch (e) {
      if (options?.force && e instanceof VfsError && e.code === "ENOENT") return;
      throw e;
    }
  }

  async rename(from: string, to: string): Promise<void> {
    const src = splitChild(from);
    const dst = splitChild(to);
    await this.inDir(src.parents, from, async (srcDir) => {
      if (!(await lstatAt(srcDir, src.name))) throw new VfsError("ENOENT", from);
      await this.inDir(dst.parents, to, async (dstDir) => {
        if (from === to) return;
        if (to.startsWith(from + "/")) throw new VfsError("EINVAL", to, `EINVAL: cannot move ${from} into itself`);
        try {
          await fsp.rename(at(srcDir, src.name), at(dstDir, dst.name));
        } catch (e) {
          // Linux says EEXIST or ENOTEMPTY for a non-empty directory in the way.
          throw errno(e) === "EEXIST" ? new VfsError("ENOTEMPTY", to) : vfsError(e, to);
        }
      });
    });
  }

  async usage(): Promise<Usage> {
    const total = { bytes: 0, files: 0 };
    await this.inDir([], "", (root) => addUsage(root, total));
    return total;
  }

  async destroy(): Promise<void> {
    if (!this.image) return removeTree(this.hostRoot);
    try {
      // Emptied first, as a plain directory is: a container that still holds the filesystem
      // (its removal runs in the background) finds nothing there.
      await emptyTree(this.hostRoot);
    } finally {
      await unmount(this.hostRoot);
      await removeTree(this.hostRoot);
      // A loop device still in use keeps the image's blocks until it is released.
      await fsp.rm(this.image, { force: true });
    }
  }

  /** Sizes the new (empty) image, formats it and mounts it on the root. */
  private async mountFilesystem(path: string, image: FileHandle): Promise<void> {
    const inodes = this.quota.maxFiles + SPARE_INODES;
    try {
      await image.truncate(imageBytes(this.quota, inodes)); // sparse
    } finally {
      await image.close();
    }
    await run("mkfs.ext4", [...MKFS_ARGS, "-N", String(inodes), path]);
    await run("mount", ["-t", "ext4", "-o", MOUNT_OPTIONS, path, this.hostRoot]);
    // Only fsck uses it, and it would count as one of the session's entries.
    await fsp.rmdir(join(this.hostRoot, "lost+found"));
  }

  // --- walking --------------------------------------------------------------

  /** Opens the session root. */
  private async openRoot(path: string): Promise<FileHandle> {
    try {
      return await fsp.open(this.hostRoot, DIR_FLAGS);
    } catch (e) {
      throw vfsError(e, path);
    }
  }

  /**
   * Opens the directory `parts` below the root without following any symlink; with
   * `create`, missing directories are made (and given to the owner) on the way.
   */
  private async openDirAt(parts: readonly string[], path: string, create = false): Promise<FileHandle> {
    let dir = await this.openRoot(path);
    try {
      for (const name of parts) {
        const next = await this.openChildDir(dir, name, path, create);
        const done = dir;
        dir = next;
        await done.close();
      }
      return dir;
    } catch (e) {
      await dir.close();
      throw e;
    }
  }

  /** Runs `fn` with the directory `parts` open, and closes it. */
  private async inDir<T>(parts: readonly string[], path: string, fn: (dir: FileHandle) => Promise<T>, create = false): Promise<T> {
    const dir = await this.openDirAt(parts, path, create);
    try {
      return await fn(dir);
    } finally {
      await dir.close();
    }
  }

  private async openChildDir(dir: FileHandle, name: string, path: string, create: boolean): Promise<FileHandle> {
    try {
      return await fsp.open(at(dir, name), DIR_FLAGS);
    } catch (e) {
      if (!create || errno(e) !== "ENOENT") throw await explainDirError(e, dir, name, path);
    }
    try {
      await fsp.mkdir(at(dir, name), DIR_MODE);
    } catch (e) {
      if (errno(e) !== "EEXIST") throw vfsError(e, path); // else someone made it meanwhile
    }
    return this.openOwnedDir(dir, name, path);
  }

  /**
   * Looks at `parents/name` for a write that creates missing parents, without changing
   * anything: returns the target's lstat (null when missing) and adds the directories
   * the write would create to `newDirs`.
   */
  private async probeTarget(parents: readonly string[], name: string, path: string, newDirs: Set<string>): Promise<Stats | null> {
    let dir = await this.openRoot(path);
    try {
      for (let i = 0; i < parents.length; i++) {
        let next: FileHandle;
        try {
          next = await fsp.open(at(dir, parents[i]!), DIR_FLAGS);
        } catch (e) {
          if (errno(e) !== "ENOENT") throw await explainDirError(e, dir, parents[i]!, path);
          for (let j = i + 1; j <= parents.length; j++) newDirs.add(parents.slice(0, j).join("/"));
          return null;
        }
        const done = dir;
        dir = next;
        await done.close();
      }
      return await lstatAt(dir, name);
    } finally {
      await dir.close();
    }
  }

  // --- files ----------------------------------------------------------------

  /** Opens a regular file for reading: ESYMLINK for a symlink, EISDIR for a directory. */
  private async openFile(path: string): Promise<DiskFileReader> {
    const { parents, name } = splitChild(path);
    return this.inDir(parents, path, async (dir) => {
      const file = openRegular(dir, name, path);
      if (!file) throw notRegular(path);
      return file;
    });
  }

  /** Opens `name` for appending, creating it (mode 0o644, given to the owner) when missing. */
  private async openForAppend(dir: FileHandle, name: string, path: string): Promise<FileHandle> {
    // O_EXCL first, so we know whether we made the file (and must give it to the owner).
    const created = await fsp.open(at(dir, name), CREATE_FLAGS | C.O_APPEND, FILE_MODE).catch((e) => {
      if (errno(e) === "EEXIST") return null;
      throw vfsError(e, path);
    });
    if (created) {
      try {
        await this.own(created, FILE_MODE);
        return created;
      } catch (e) {
        await created.close();
        throw e;
      }
    }
    let file: FileHandle;
    try {
      file = await fsp.open(at(dir, name), APPEND_FLAGS);
    } catch (e) {
      throw vfsError(e, path);
    }
    const st = await file.stat();
    if (!st.isFile()) {
      await file.close();
      throw st.isDirectory() ? new VfsError("EISDIR", path) : notRegular(path);
    }
    return file;
  }

  /**
   * Runs `fn` with a new staging directory open, made in the session root so that renames
   * out of it stay on one filesystem (the loop filesystem's, when there is one). It is
   * root's and 0700, so programs can't read or touch what is staged, and it lives for one
   * writeFiles only: the writes that check the quota run one at a time, so no quota check
   * counts it (a list or download running meanwhile may see it). A program may rename it,
   * or remove it while empty and put a symlink in its place: every use below goes through
   * the fd, which still names the directory made here, and rmdir follows no symlink.
   */
  private async withStaging<T>(fn: (staging: FileHandle) => Promise<T>): Promise<T> {
    const name = `${STAGING_PREFIX}${randomBytes(12).toString("hex")}`;
    return this.inDir([], "", async (root) => {
      try {
        await fsp.mkdir(at(root, name), 0o700);
      } catch (e) {
        throw vfsError(e, "");
      }
      try {
        const staging = await fsp.open(at(root, name), DIR_FLAGS).catch(async (e) => {
          throw await explainDirError(e, root, name, "");
        });
        try {
          return await fn(staging);
        } finally {
          await staging.close();
        }
      } finally {
        await fsp.rmdir(at(root, name)).catch(() => undefined);
      }
    });
  }

  /** Writes every file into the staging directory; on failure removes what was staged. */
  private async stageAll(staging: FileHandle, files: FileWrite[]): Promise<Array<{ file: FileWrite; temp: string }>> {
    const staged: Array<{ file: FileWrite; temp: string }> = [];
    try {
      for (const file of files) {
        const temp = `${randomBytes(12).toString("hex")}.tmp`;
        staged.push({ file, temp });
        try {
          const out = await fsp.open(at(staging, temp), CREATE_FLAGS, 0o600);
          try {
            await writeAll(out, file.data);
            await this.own(out, (file.mode ?? FILE_MODE) & 0o777);
          } finally {
            await out.close();
          }
        } catch (e) {
          throw vfsError(e, file.path); // ENOSPC when the session's filesystem is full: EQUOTA
        }
      }
      return staged;
    } catch (e) {
      await discardStaged(staging, staged);
      throw e;
    }
  }

  /** Renames staged files into the session, making missing parents through fds. */
  private async commit(staging: FileHandle, staged: Array<{ file: FileWrite; temp: string }>): Promise<void> {
    let done = 0;
    try {
      for (const { file, temp } of staged) {
        const { parents, name } = splitChild(file.path);
        await this.inDir(parents, file.path, async (dir) => {
          try {
            await fsp.rename(at(staging, temp), at(dir, name)); // replaces a symlink, never follows it
          } catch (e) {
            throw vfsError(e, file.path);
          }
        }, true);
        done++;
      }
    } finally {
      // Only when the session changed under us since validation.
      await discardStaged(staging, staged.slice(done));
    }
  }

  // --- ownership and quota ----------------------------------------------------

  /** Sets the mode exactly (umask aside) and gives the entry to the session's owner. */
  private async own(handle: FileHandle, mode: number): Promise<void> {
    if (this.owner) await handle.chown(this.owner.uid, this.owner.gid);
    await handle.chmod(mode); // after chown, which may clear mode bits
  }

  /** Opens a directory just made by mkdir (no-follow) and fixes its mode and owner; the caller closes it. */
  private async openOwnedDir(dir: FileHandle, name: string, path: string): Promise<FileHandle> {
    let child: FileHandle;
    try {
      child = await fsp.open(at(dir, name), DIR_FLAGS);
    } catch (e) {
      throw await explainDirError(e, dir, name, path);
    }
    try {
      await this.own(child, DIR_MODE);
      return child;
    } catch (e) {
      await child.close();
      throw e;
    }
  }

  /** Fixes mode and owner of a directory just made by mkdir. */
  private async ownDirAt(dir: FileHandle, name: string, path: string): Promise<void> {
    await (await this.openOwnedDir(dir, name, path)).close();
  }

  private async checkQuota(deltaBytes: number, deltaFiles: number, path: string): Promise<void> {
    const current = await this.usage();
    if (current.bytes + deltaBytes > this.quota.maxBytes) {
      throw new VfsError("EQUOTA", path, `EQUOTA: the session's ${this.quota.maxBytes}-byte quota would be exceeded`);
    }
    if (current.files + deltaFiles > this.quota.maxFiles) {
      throw new VfsError("EQUOTA", path, `EQUOTA: the session's ${this.quota.maxFiles}-entry quota would be exceeded`);
    }
  }
}

// --- helpers ------------------------------------------------------------------

/** All of a file, however much it grew since it was opened. */
async function readToEnd(file: DiskFileReader): Promise<Uint8Array> {
  let data = new Uint8Array(file.stat.size + 1);
  let length = 0;
  for (;;) {
    if (length === data.byteLength) {
      const grown = new Uint8Array(data.byteLength * 2);
      grown.set(data);
      data = grown;
    }
    const n = await file.read(data.subarray(length));
    if (n === 0) return data.subarray(0, length);
    length += n;
  }
}

async function writeAll(file: FileHandle, data: Uint8Array): Promise<void> {
  for (let offset = 0; offset < data.byteLength; ) {
    const { bytesWritten } = await file.write(data, offset, data.byteLength - offset, null);
    offset += bytesWritten;
  }
}

async function discardStaged(staging: FileHandle, staged: Array<{ temp: string }>): Promise<void> {
  for (const { temp } of staged) {
    await fsp.unlink(at(staging, temp)).catch(() => undefined);
  }
}

/** Adds the entries below `dir` to `total`: every entry counts, only regular files' bytes. */
async function addUsage(dir: FileHandle, total: Usage): Promise<void> {
  const names = await rawNamesOf(dir);
  const stats = await Promise.all(names.map((name) => lstatAt(dir, name)));
  for (let i = 0; i < names.length; i++) {
    const st = stats[i];
    if (!st) continue;
    total.files++;
    if (st.isFile()) total.bytes += st.size;
    if (!st.isDirectory()) continue;
    // Directories one at a time, so the walk holds one fd per level.
    const child = await fsp.open(at(dir, names[i]!), DIR_FLAGS).catch(() => null); // null: swapped or gone
    if (!child) continue;
    try {
      await addUsage(child, total);
    } finally {
      await child.close();
    }
  }
}

/** Deletes `name` in `parent` and everything below it, unlinking symlinks rather than following them. */
async function removeEntry(parent: FileHandle, name: Buffer): Promise<void> {
  // Session programs may keep adding entries or swapping things while we delete.
  for (let attempt = 0; ; attempt++) {
    let child: FileHandle;
    try {
      child = await fsp.open(at(parent, name), DIR_FLAGS);
    } catch (e) {
      if (errno(e) === "ENOENT") return;
      if (errno(e) !== "ENOTDIR" && errno(e) !== "ELOOP") throw e;
      await fsp.unlink(at(parent, name)).catch((err) => {
        if (errno(err) !== "ENOENT") throw err;
      });
      return;
    }
    try {
      await emptyDir(child);
    } finally {
      await child.close();
    }
    try {
      await fsp.rmdir(at(parent, name));
      return;
    } catch (e) {
      if (errno(e) === "ENOENT") return;
      const retry = errno(e) === "ENOTEMPTY" || errno(e) === "EEXIST" || errno(e) === "ENOTDIR";
      if (!retry || attempt >= 4) throw e;
    }
  }
}

async function emptyDir(dir: FileHandle): Promise<void> {
  for (const name of await rawNamesOf(dir)) await removeEntry(dir, name);
}

/** Removes a host directory (the session root) with the fd-based walk. */
async function removeTree(hostPath: string): Promise<void> {
  await emptyTree(hostPath);
  await fsp.rmdir(hostPath).catch((e) => {
    if (errno(e) !== "ENOENT") throw e;
  });
}

/** Removes everything in a host directory with the fd-based walk; a missing one is empty. */
async function emptyTree(hostPath: string): Promise<void> {
  let dir: FileHandle;
  try {
    dir = await fsp.open(hostPath, DIR_FLAGS);
  } catch (e) {
    if (errno(e) === "ENOENT") return;
    throw e;
  }
  try {
    await emptyDir(dir);
  } finally {
    await dir.close();
  }
}

// --- the loop filesystem -------------------------------------------------------------

/**
 * Bytes of an image in which whatever the quota lets in fits: maxBytes of file data plus
 * a block per entry (a file's last, partly used block; a directory's block), the 2% (at
 * most 16 MiB) ext4 keeps back for delayed allocation, the inode tables, and 4 MiB for
 * the rest of the metadata. The file is sparse: only what is written takes host disk.
 */
function imageBytes(quota: Quota, inodes: number): number {
  const data = quota.maxBytes + quota.maxFiles * FS_BLOCK;
  const bytes = data + Math.min(Math.ceil(data / 49), 16 * MiB) + inodes * FS_INODE + 4 * MiB;
  return Math.ceil(bytes / FS_BLOCK) * FS_BLOCK;
}

/** Whether `path` is a mount point: another filesystem than its parent's. */
async function isMountPoint(path: string): Promise<boolean> {
  try {
    const [self, parent] = await Promise.all([fsp.lstat(path), fsp.lstat(dirname(path))]);
    return self.isDirectory() && self.dev !== parent.dev;
  } catch (e) {
    if (errno(e) === "ENOENT") return false;
    throw e;
  }
}

/**
 * Unmounts the filesystem on `path`, if any. Lazily when busy (a file open there):
 * it disappears from the path now, and the loop device goes once nothing holds it.
 */
async function unmount(path: string): Promise<void> {
  // Mount propagation (the podman pool binds session roots onto shared slots) can stack a
  // second mount of the same filesystem on the root: unmount until none is left.
  for (let layer = 0; layer < 8 && (await isMountPoint(path)); layer++) {
    await run("umount", [path]).catch(() => run("umount", ["--lazy", path]));
  }
  if (await isMountPoint(path)) throw new Error(`umount: ${path} stays mounted`);
}

/** mkfs.ext4 lives in sbin, which a server's PATH may lack. */
const COMMAND_PATH = [process.env.PATH, "/usr/sbin", "/sbin", "/usr/bin", "/bin"].filter(Boolean).join(":");

/** Runs a host program with arguments (no shell); rejects with its message when it fails. */
function run(program: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(program, args, { timeout: 60_000, env: { ...process.env, PATH: COMMAND_PATH } }, (error, _stdout, stderr) => {
      if (!error) return resolve();
      const why = errno(error) === "ENOENT" ? "not installed" : String(stderr).trim() || error.message;
      reject(new Error(`${program}: ${why}`));
    });
  });
}
