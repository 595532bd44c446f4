// node:fs over the session's files. Every call is a synchronous host operation
// (see host.ts); the callback and promise forms wrap the sync ones. Paths are
// resolved against /home/work; fds 0-2 are stdin/stdout/stderr.

import { emit, op } from "./host.ts";
import { Buffer } from "./buffer.ts";
import { decode, normalizeEncoding, utf8Encode } from "./encoding.ts";
import { EventEmitter } from "./events.ts";
import * as path from "./path.ts";
import { readLine } from "./stdin.ts";

interface HostStat {
  kind: "file" | "dir" | "symlink";
  size: number;
  mode: number;
  atimeMs: number;
  mtimeMs: number;
  ctimeMs: number;
}

const ERRNO: Record<string, [number, string]> = {
  ENOENT: [-2, "no such file or directory"],
  EEXIST: [-17, "file already exists"],
  ENOTDIR: [-20, "not a directory"],
  EISDIR: [-21, "illegal operation on a directory"],
  ENOTEMPTY: [-39, "directory not empty"],
  EACCES: [-13, "permission denied"],
  EINVAL: [-22, "invalid argument"],
  ELOOP: [-40, "too many symbolic links encountered"],
  EDQUOT: [-122, "disk quota exceeded"],
  EBADF: [-9, "bad file descriptor"],
  ENOSYS: [-38, "function not implemented"],
};

export function fsError(code: string, syscall: string, p?: string, dest?: string): Error {
  const [errno, desc] = ERRNO[code] ?? [-5, "i/o error"];
  const where = p === undefined ? "" : dest === undefined ? ` '${p}'` : ` '${p}' -> '${dest}'`;
  const err = new Error(`${code}: ${desc}, ${syscall}${where}`) as Error & Record<string, unknown>;
  err.errno = errno;
  err.code = code;
  err.syscall = syscall;
  if (p !== undefined) err.path = p;
  if (dest !== undefined) err.dest = dest;
  return err;
}

function call<T>(name: string, syscall: string, p: string, ...args: unknown[]): T {
  try {
    return op<T>(name, p, ...args);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === "string" && code in ERRNO) throw fsError(code, syscall, p, typeof args[0] === "string" && name === "rename" ? (args[0] as string) : undefined);
    throw error;
  }
}

type PathLike = string | Uint8Array | URL | { href: string; protocol: string; pathname: string };

function toPath(p: unknown, name = "path"): string {
  if (typeof p === "string") return path.resolve(p);
  if (p instanceof Uint8Array) return path.resolve(decode(p, "utf8"));
  if (p && typeof p === "object" && (p as { protocol?: unknown }).protocol === "file:") {
    return path.resolve(decodeURIComponent(String((p as { pathname: string }).pathname)));
  }
  const err = new TypeError(`The "${name}" argument must be of type string or an instance of Buffer or URL. Received ${p === null ? "null" : typeof p}`) as TypeError & { code: string };
  err.code = "ERR_INVALID_ARG_TYPE";
  throw err;
}

function encodingOf(options: unknown): string | undefined {
  if (typeof options === "string") return options;
  if (options && typeof options === "object") {
    const enc = (options as { encoding?: unknown }).encoding;
    return typeof enc === "string" ? enc : undefined;
  }
  return undefined;
}

function toBytes(data: unknown, enc?: string): Uint8Array {
  if (typeof data === "string") return enc ? Buffer.from(data, enc) : utf8Encode(data);
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const err = new TypeError(`The "data" argument must be of type string or an instance of Buffer, TypedArray, or DataView. Received ${typeof data}`) as TypeError & { code: string };
  err.code = "ERR_INVALID_ARG_TYPE";
  throw err;
}

const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

export class Stats {
  dev = 2049;
  ino = 0;
  nlink = 1;
  uid = 1000;
  gid = 1000;
  rdev = 0;
  blksize = 4096;
  mode: number;
  size: number;
  blocks: number;
  atimeMs: number;
  mtimeMs: number;
  ctimeMs: number;
  birthtimeMs: number;
  atime: Date;
  mtime: Date;
  ctime: Date;
  birthtime: Date;
  constructor(s: HostStat) {
    this.mode = s.mode | (s.kind === "dir" ? S_IFDIR : s.kind === "symlink" ? S_IFLNK : S_IFREG);
    this.size = s.size;
    this.blocks = Math.ceil(s.size / 512);
    this.atimeMs = s.atimeMs;
    this.mtimeMs = s.mtimeMs;
    this.ctimeMs = s.ctimeMs;
    this.birthtimeMs = s.ctimeMs;
    this.atime = new Date(s.atimeMs);
    this.mtime = new Date(s.mtimeMs);
    this.ctime = new Date(s.ctimeMs);
    this.birthtime = new Date(s.ctimeMs);
  }
  isFile() { return (this.mode & 0o170000) === S_IFREG; }
  isDirectory() { return (this.mode & 0o170000) === S_IFDIR; }
  isSymbolicLink() { return (this.mode & 0o170000) === S_IFLNK; }
  isBlockDevice() { return false; }
  isCharacterDevice() { return false; }
  isFIFO() { return false; }
  isSocket() { return false; }
}

export class Dirent {
  constructor(
    readonly name: string,
    private readonly kind: string,
    readonly parentPath: string,
  ) {}
  get path() { return this.parentPath; }
  isFile() { return this.kind === "file"; }
  isDirectory() { return this.kind === "dir"; }
  isSymbolicLink() { return this.kind === "symlink"; }
  isBlockDevice() { return false; }
  isCharacterDevice() { return false; }
  isFIFO() { return false; }
  isSocket() { return false; }
}

function isStdin(p: unknown): boolean {
  return p === 0 || p === "/dev/stdin";
}

// ---- sync API ----

export function readFileSync(p: unknown, options?: unknown): string | Buffer {
  const enc = encodingOf(options);
  if (isStdin(p)) {
    const text = readLine();
    const line = text.endsWith("\n") ? text : text + "\n";
    return enc ? line : Buffer.from(line);
  }
  if (typeof p === "number") return readFd(p, enc);
  const file = toPath(p);
  const bytes = call<Uint8Array>("read", "open", file);
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return enc ? buf.toString(normalizeEncoding(enc)) : buf;
}

export function writeFileSync(p: unknown, data: unknown, options?: unknown): void {
  if (p === 1 || p === 2) return writeStd(p, data, encodingOf(options));
  if (typeof p === "number") return void writeSync(p, data as string);
  const flag = options && typeof options === "object" ? String((options as { flag?: unknown }).flag ?? "w") : "w";
  const mode = flag.startsWith("a") ? "a" : flag.includes("x") ? "wx" : "w";
  call("write", "open", toPath(p), toBytes(data, encodingOf(options)), mode);
}

export function appendFileSync(p: unknown, data: unknown, options?: unknown): void {
  if (p === 1 || p === 2) return writeStd(p, data, encodingOf(options));
  call("write", "open", toPath(p), toBytes(data, encodingOf(options)), "a");
}

export function existsSync(p: unknown): boolean {
  try {
    return op<HostStat | null>("stat", toPath(p)) !== null;
  } catch {
    return false;
  }
}

export function statSync(p: unknown, options?: { throwIfNoEntry?: boolean }): Stats | undefined {
  const file = toPath(p);
  const s = call<HostStat | null>("stat", "stat", file);
  if (!s) {
    if (options?.throwIfNoEntry === false) return undefined;
    throw fsError("ENOENT", "stat", file);
  }
  return new Stats(s);
}

export const lstatSync = statSync;

export function accessSync(p: unknown): void {
  const file = toPath(p);
  if (!call("stat", "access", file)) throw fsError("ENOENT", "access", file);
}

export function readdirSync(p: unknown, options?: unknown): (string | Buffer | Dirent)[] {
  const dir = toPath(p);
  const opts = (options && typeof options === "object" ? options : {}) as { withFileTypes?: boolean; recursive?: boolean; encoding?: string };
  const out: (string | Dirent)[] = [];
  const walk = (abs: string, rel: string) => {
    for (const e of call<{ name: string; kind: string }[]>("list", "scandir", abs)) {
      const relName = rel ? `${rel}/${e.name}` : e.name;
      out.push(opts.withFileTypes ? new Dirent(e.name, e.kind, abs) : relName);
      if (opts.recursive && e.kind === "dir") walk(`${abs}/${e.name}`, relName);
    }
  };
  walk(dir, "");
  if (encodingOf(options) === "buffer") return out.map((n) => (typeof n === "string" ? Buffer.from(n) : n));
  return out;
}

export function mkdirSync(p: unknown, options?: unknown): string | undefined {
  const dir = toPath(p);
  const recursive = typeof options === "object" && options !== null && !!(options as { recursive?: boolean }).recursive;
  if (!recursive) {
    call("mkdir", "mkdir", dir, false);
    return undefined;
  }
  let first: string | undefined;
  for (let at = dir; at !== "/" && at !== path.CWD; at = path.dirname(at)) {
    if (op("stat", at) === null) first = at;
    else break;
  }
  call("mkdir", "mkdir", dir, true);
  return first;
}

export function rmSync(p: unknown, options?: { recursive?: boolean; force?: boolean }): void {
  const file = toPath(p);
  const s = call<HostStat | null>("stat", "rm", file);
  if (!s) {
    if (options?.force) return;
    throw fsError("ENOENT", "rm", file);
  }
  if (s.kind === "dir" && !options?.recursive) {
    const err = fsError("EISDIR", "rm", file) as Error & { code: string };
    err.message = `Path is a directory: rm returned EISDIR (is a directory) ${file}`;
    err.code = "ERR_FS_EISDIR";
    throw err;
  }
  call("rm", "rm", file, true, !!options?.force);
}

export function rmdirSync(p: unknown, options?: { recursive?: boolean }): void {
  const dir = toPath(p);
  const s = call<HostStat | null>("stat", "rmdir", dir);
  if (!s) throw fsError("ENOENT", "rmdir", dir);
  if (s.kind !== "dir") throw fsError("ENOTDIR", "rmdir", dir);
  call("rm", "rmdir", dir, !!options?.recursive, false);
}

export function unlinkSync(p: unknown): void {
  const file = toPath(p);
  const s = call<HostStat | null>("stat", "unlink", file);
  if (!s) throw fsError("ENOENT", "unlink", file);
  if (s.kind === "dir") throw fsError("EISDIR", "unlink", file);
  call("rm", "unlink", file, false, false);
}

export function renameSync(from: unknown, to: unknown): void {
  call("rename", "rename", toPath(from, "oldPath"), toPath(to, "newPath"));
}

export function copyFileSync(from: unknown, to: unknown, mode = 0): void {
  const src = toPath(from, "src");
  const dst = toPath(to, "dest");
  if (mode & 1 && existsSync(dst)) throw fsError("EEXIST", "copyfile", src, dst);
  const bytes = call<Uint8Array>("read", "copyfile", src);
  call("write", "copyfile", dst, bytes, "w");
}

export function truncateSync(p: unknown, len = 0): void {
  const file = toPath(p);
  const bytes = call<Uint8Array>("read", "open", file);
  const out = new Uint8Array(len);
  out.set(bytes.subarray(0, len));
  call("write", "open", file, out, "w");
}

export function realpathSync(p: unknown): string {
  const file = toPath(p);
  if (file !== path.CWD && !existsSync(file)) throw fsError("ENOENT", "realpath", file);
  return file;
}
realpathSync.native = realpathSync;

export function readlinkSync(p: unknown): string {
  throw fsError("EINVAL", "readlink", toPath(p));
}

export function mkdtempSync(prefix: string): string {
  const dir = path.resolve(`${prefix}${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(dir);
  return dir;
}

/** Permissions and times are not tracked beyond what the VFS keeps: these only check the path. */
export function chmodSync(p: unknown): void {
  accessSync(p);
}
export const utimesSync = chmodSync;
export const chownSync = chmodSync;

// ---- file descriptors ----

interface Fd {
  path: string;
  position: number;
  append: boolean;
}

const fds = new Map<number, Fd>();
let nextFd = 3;

export function openSync(p: unknown, flags: string | number = "r"): number {
  const file = toPath(p);
  const f = typeof flags === "number" ? (flags & 3 ? (flags & 1024 ? "a" : "w") : "r") : flags;
  const exists = existsSync(file);
  if (f.startsWith("r") && !exists) throw fsError("ENOENT", "open", file);
  if (f.includes("x") && exists) throw fsError("EEXIST", "open", file);
  if (f.startsWith("w")) call("write", "open", file, new Uint8Array(0), "w");
  if (f.startsWith("a") && !exists) call("write", "open", file, new Uint8Array(0), "w");
  const fd = nextFd++;
  fds.set(fd, { path: file, position: 0, append: f.startsWith("a") });
  return fd;
}

export function closeSync(fd: number): void {
  if (fd <= 2) return;
  if (!fds.delete(fd)) throw fsError("EBADF", "close");
}

function getFd(fd: number, syscall: string): Fd {
  const entry = fds.get(fd);
  if (!entry) throw fsError("EBADF", syscall);
  return entry;
}

function writeStd(fd: 1 | 2, data: unknown, enc?: string): void {
  if (typeof data === "string" && !enc) emit({ s: fd, t: data }, data.length);
  else {
    const bytes = toBytes(data, enc);
    emit({ s: fd, b: bytes.slice() }, bytes.length);
  }
}

export function writeSync(fd: number, data: unknown, ...rest: unknown[]): number {
  let bytes: Uint8Array;
  if (typeof data === "string") bytes = toBytes(data, typeof rest[1] === "string" ? rest[1] : undefined);
  else {
    const view = toBytes(data);
    const offset = typeof rest[0] === "number" ? rest[0] : 0;
    const length = typeof rest[1] === "number" ? rest[1] : view.length - offset;
    bytes = view.subarray(offset, offset + length);
  }
  if (fd === 1 || fd === 2) {
    writeStd(fd, bytes);
    return bytes.length;
  }
  const entry = getFd(fd, "write");
  if (entry.append) call("write", "write", entry.path, bytes, "a");
  else {
    const old = call<Uint8Array>("read", "write", entry.path);
    const size = Math.max(old.length, entry.position + bytes.length);
    const out = new Uint8Array(size);
    out.set(old);
    out.set(bytes, entry.position);
    call("write", "write", entry.path, out, "w");
    entry.position += bytes.length;
  }
  return bytes.length;
}

export function readSync(fd: number, buffer: Uint8Array, ...rest: unknown[]): number {
  const opts = (rest[0] && typeof rest[0] === "object" ? rest[0] : {}) as { offset?: number; length?: number; position?: number | null };
  const offset = typeof rest[0] === "number" ? rest[0] : (opts.offset ?? 0);
  const length = typeof rest[1] === "number" ? rest[1] : (opts.length ?? buffer.length - offset);
  const position = typeof rest[2] === "number" ? rest[2] : (opts.position ?? null);
  let source: Uint8Array;
  let entry: Fd | null = null;
  if (fd === 0) source = utf8Encode(readLine() + "\n");
  else {
    entry = getFd(fd, "read");
    source = call<Uint8Array>("read", "read", entry.path).subarray(position ?? entry.position);
  }
  const n = Math.min(length, source.length);
  buffer.set(source.subarray(0, n), offset);
  if (entry && position === null) entry.position += n;
  return n;
}

function readFd(fd: number, enc?: string): string | Buffer {
  const entry = getFd(fd, "read");
  const bytes = call<Uint8Array>("read", "read", entry.path).subarray(entry.position);
  entry.position += bytes.length;
  const buf = Buffer.from(bytes);
  return enc ? buf.toString(enc) : buf;
}

export function fstatSync(fd: number): Stats {
  return statSync(getFd(fd, "fstat").path)!;
}

// ---- streams ----

export class WriteStream extends EventEmitter {
  bytesWritten = 0;
  writable = true;
  constructor(readonly path: string, options: { flags?: string } = {}) {
    super();
    call("write", "open", path, new Uint8Array(0), options.flags?.startsWith("a") ? "a" : "w");
    queueMicrotask(() => this.emit("open", 3));
  }
  write(chunk: unknown, enc?: unknown, cb?: () => void): boolean {
    const done = typeof enc === "function" ? (enc as () => void) : cb;
    const bytes = toBytes(chunk, typeof enc === "string" ? enc : undefined);
    call("write", "write", this.path, bytes, "a");
    this.bytesWritten += bytes.length;
    if (done) queueMicrotask(done);
    return true;
  }
  end(chunk?: unknown, enc?: unknown, cb?: () => void): this {
    const done = [chunk, enc, cb].find((x) => typeof x === "function") as (() => void) | undefined;
    if (chunk !== undefined && typeof chunk !== "function") this.write(chunk, typeof enc === "string" ? enc : undefined);
    this.writable = false;
    queueMicrotask(() => {
      this.emit("finish");
      this.emit("close");
      done?.();
    });
    return this;
  }
  close(cb?: () => void): void {
    this.end(cb);
  }
}

export class ReadStream extends EventEmitter {
  constructor(readonly path: string, options: { encoding?: string; highWaterMark?: number } = {}) {
    super();
    const size = options.highWaterMark ?? 64 * 1024;
    queueMicrotask(() => {
      let data: Buffer;
      try {
        data = readFileSync(path) as Buffer;
      } catch (error) {
        this.emit("error", error);
        return;
      }
      this.emit("open", 3);
      for (let at = 0; at < data.length; at += size) {
        const chunk = data.subarray(at, at + size);
        this.emit("data", options.encoding ? (chunk as Buffer).toString(options.encoding) : chunk);
      }
      this.emit("end");
      this.emit("close");
    });
  }
  pipe<T extends { write(chunk: unknown): unknown; end?(): unknown }>(dest: T): T {
    this.on("data", (chunk: unknown) => dest.write(chunk));
    this.on("end", () => dest.end?.());
    return dest;
  }
  async *[Symbol.asyncIterator](): AsyncGenerator<unknown> {
    const chunks: unknown[] = [];
    let ended = false;
    let failure: unknown = null;
    let wake: (() => void) | null = null;
    this.on("data", (c: unknown) => (chunks.push(c), wake?.()));
    this.on("end", () => ((ended = true), wake?.()));
    this.on("error", (e: unknown) => ((failure = e), wake?.()));
    while (true) {
      if (failure) throw failure;
      if (chunks.length > 0) yield chunks.shift();
      else if (ended) return;
      else await new Promise<void>((r) => (wake = r));
    }
  }
}

export function createWriteStream(p: unknown, options?: unknown): WriteStream {
  return new WriteStream(toPath(p), (typeof options === "object" && options) || {});
}

export function createReadStream(p: unknown, options?: unknown): ReadStream {
  const opts = typeof options === "string" ? { encoding: options } : (typeof options === "object" && options) || {};
  return new ReadStream(toPath(p), opts as { encoding?: string });
}

// ---- callback and promise forms ----

const SYNC = {
  readFile: readFileSync,
  writeFile: writeFileSync,
  appendFile: appendFileSync,
  stat: statSync,
  lstat: lstatSync,
  access: accessSync,
  readdir: readdirSync,
  mkdir: mkdirSync,
  rm: rmSync,
  rmdir: rmdirSync,
  unlink: unlinkSync,
  rename: renameSync,
  copyFile: copyFileSync,
  truncate: truncateSync,
  realpath: realpathSync,
  readlink: readlinkSync,
  mkdtemp: mkdtempSync,
  chmod: chmodSync,
  utimes: utimesSync,
  chown: chownSync,
} as Record<string, (...args: any[]) => unknown>;

function callbackForm(fn: (...args: any[]) => unknown) {
  return (...args: unknown[]) => {
    const cb = typeof args[args.length - 1] === "function" ? (args.pop() as (err: unknown, value?: unknown) => void) : null;
    let result: unknown;
    let failure: unknown = null;
    try {
      result = fn(...args);
    } catch (error) {
      failure = error;
    }
    if (cb) Promise.resolve().then(() => (failure ? cb(failure) : cb(null, result)));
  };
}

export const promises: Record<string, unknown> = {};
const callbacks: Record<string, unknown> = {};
for (const [name, fn] of Object.entries(SYNC)) {
  callbacks[name] = callbackForm(fn);
  promises[name] = async (...args: unknown[]) => fn(...args);
}
callbacks.exists = (p: unknown, cb: (exists: boolean) => void) => {
  const result = existsSync(p);
  Promise.resolve().then(() => cb(result));
};
promises.constants = { F_OK: 0, R_OK: 4, W_OK: 2, X_OK: 1 };

export const constants = { F_OK: 0, R_OK: 4, W_OK: 2, X_OK: 1, COPYFILE_EXCL: 1, O_RDONLY: 0, O_WRONLY: 1, O_RDWR: 2, O_CREAT: 64, O_EXCL: 128, O_TRUNC: 512, O_APPEND: 1024, S_IFMT: 0o170000, S_IFREG, S_IFDIR, S_IFLNK };

export const fs: Record<string, unknown> = {
  ...callbacks,
  readFileSync,
  writeFileSync,
  appendFileSync,
  existsSync,
  statSync,
  lstatSync,
  accessSync,
  readdirSync,
  mkdirSync,
  rmSync,
  rmdirSync,
  unlinkSync,
  renameSync,
  copyFileSync,
  truncateSync,
  realpathSync,
  readlinkSync,
  mkdtempSync,
  chmodSync,
  utimesSync,
  chownSync,
  openSync,
  closeSync,
  writeSync,
  readSync,
  fstatSync,
  createReadStream,
  createWriteStream,
  Stats,
  Dirent,
  WriteStream,
  ReadStream,
  constants,
  promises,
  ...constants,
};
