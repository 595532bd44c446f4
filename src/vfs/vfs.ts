// The session filesystem contract. Everything here speaks in *session paths*:
// POSIX paths relative to the session root (/home/work), already normalised by
// paths.ts: no leading slash, no "." or ".." segments, "" is the root itself.
// vfs/ imports nothing else of Kiln.

export type EntryKind = "file" | "dir" | "symlink";

export interface Stat {
  kind: EntryKind;
  /** Bytes for files, the target's length for symlinks, 0 (memory) or the inode size (disk) for directories. */
  size: number;
  /** Permission bits only, e.g. 0o644. */
  mode: number;
  atimeMs: number;
  mtimeMs: number;
  ctimeMs: number;
}

export interface DirEntry extends Stat {
  name: string;
}

export interface Usage {
  bytes: number;
  files: number;
}

export interface Quota {
  /** Total bytes of regular files. */
  maxBytes: number;
  /** Count of entries (files, directories and symlinks, the root not included). */
  maxFiles: number;
}

export interface FileWrite {
  path: string;
  data: Uint8Array;
  /** Permission bits for a new file; default 0o644. */
  mode?: number;
}

/**
 * A directory held open, for walks over a whole subtree (archives): its children are opened
 * relative to it, never by a path from the root again, so a walk N levels deep opens N
 * directories, not N²/2; and what the handle names stays put even if the directory is moved
 * or a symlink takes its place meanwhile. Closing it does not close what was opened through it.
 */
export interface DirHandle {
  /** lstat of a child; null when nothing is there. */
  stat(name: string): Promise<Stat | null>;
  /** Entries sorted by name, as Vfs.list. */
  list(): Promise<DirEntry[]>;
  /** A child directory, held open. ENOENT / ENOTDIR / ESYMLINK (never followed). */
  openDir(name: string): Promise<DirHandle>;
  /**
   * A child regular file, open for reading; null when it is something else that lists as a
   * file (a FIFO, socket or device a session's program made), which is never read. ENOENT / EISDIR / ESYMLINK.
   */
  openFile(name: string): Promise<FileReader | null>;
  /** Target of a child symlink, verbatim. */
  readlink(name: string): Promise<string>;
  close(): Promise<void>;
}

/** A regular file open for reading. */
export interface FileReader {
  /** The open file's own stat: its size is what an archive may promise for it. */
  readonly stat: Stat;
  /** Reads up to `into.byteLength` bytes at the current position into `into`; 0 at the end. */
  read(into: Uint8Array): Promise<number>;
  close(): Promise<void>;
}

/** Why an operation failed. The api layer maps codes to HTTP problems. */
export type VfsErrorCode =
  | "ENOENT" // no such file or directory
  | "EEXIST" // already exists
  | "ENOTDIR" // a path component (or the target) is not a directory
  | "EISDIR" // a directory where a file is needed
  | "ENOTEMPTY" // directory not empty (rm without recursive)
  | "ESYMLINK" // the operation would follow a symlink; host-side operations never do
  | "EQUOTA" // the session's byte or file quota would be exceeded
  | "EINVAL"; // a path that is not a valid session path, or an invalid operation (moving a dir into itself)

export class VfsError extends Error {
  override name = "VfsError";
  constructor(
    readonly code: VfsErrorCode,
    readonly path: string,
    message?: string,
  ) {
    super(message ?? `${code}: ${path === "" ? "/" : path}`);
  }
}

export interface Vfs {
  /** "memory" or "disk": tells kernels whether a host directory backs the session. */
  readonly kind: "memory" | "disk";
  /** The host directory of a disk-backed session (to bind-mount it); undefined in memory. */
  readonly hostRoot?: string;

  /** lstat semantics: a symlink is reported as a symlink, never followed. null when nothing is there. */
  stat(path: string): Promise<Stat | null>;
  /** Entries of a directory, sorted by name. ENOENT / ENOTDIR / ESYMLINK. */
  list(path: string): Promise<DirEntry[]>;
  /** Whole content of a regular file. ENOENT / EISDIR / ESYMLINK. */
  readFile(path: string): Promise<Uint8Array>;
  /** Streamed content of a regular file, for archives of any size. Errors surface on the first read. */
  openRead(path: string): ReadableStream<Uint8Array>;
  /** Target of a symlink, verbatim. */
  readlink(path: string): Promise<string>;
  /** The directory at `path` held open, for walks. ENOENT / ENOTDIR / ESYMLINK. */
  openDir(path: string): Promise<DirHandle>;

  /**
   * Writes all files as one operation: every path and the quota are checked before the
   * first byte lands, missing parent directories are created, existing files replaced.
   * A symlink on the way (or at the target) is refused with ESYMLINK; a directory at the
   * target with EISDIR; a file where a parent directory is needed with ENOTDIR.
   */
  writeFiles(files: FileWrite[]): Promise<void>;
  /** Appends to a file, creating it (and its parents) if missing. */
  appendFile(path: string, data: Uint8Array): Promise<void>;
  /** Creates a directory; with parents, missing parents too and no error if it exists. */
  mkdir(path: string, options?: { parents?: boolean }): Promise<void>;
  /** Removes a file, a symlink (not its target) or, with recursive, a directory tree. */
  rm(path: string, options?: { recursive?: boolean; force?: boolean }): Promise<void>;
  /** Moves a file or directory, replacing a file at the destination. */
  rename(from: string, to: string): Promise<void>;

  /** Current bytes and entry count, as the quota counts them. */
  usage(): Promise<Usage>;
  /** Frees everything (memory) or deletes the session directory (disk). The Vfs is unusable afterwards. */
  destroy(): Promise<void>;
}
