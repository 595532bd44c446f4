// A session filesystem held in the server's memory: a tree of directories and
// files, no symlinks. Usage is tracked as the tree changes, so quota checks never
// walk it. Every mutation validates first and then changes the tree without an
// await in between, which makes each operation atomic.

import type { DirEntry, DirHandle, FileReader, FileWrite, Quota, Stat, Usage, Vfs } from "./vfs.ts";
import { VfsError } from "./vfs.ts";
import { joinPath } from "./paths.ts";
import { checkBatchConflicts, compareNames, DEFAULT_QUOTA, splitChild, splitPath } from "./shared.ts";

const CHUNK_BYTES = 64 * 1024;
const FILE_MODE = 0o644;
const DIR_MODE = 0o755;

class FileNode {
  atimeMs: number;
  mtimeMs: number;
  ctimeMs: number;
  /** `data` may have spare capacity beyond `size` so that appends are amortised. */
  constructor(
    public data: Uint8Array,
    public size: number,
    public mode: number,
    now: number,
  ) {
    this.atimeMs = this.mtimeMs = this.ctimeMs = now;
  }
}

class DirNode {
  readonly children = new Map<string, Node>();
  mode = DIR_MODE;
  atimeMs: number;
  mtimeMs: number;
  ctimeMs: number;
  constructor(now: number) {
    this.atimeMs = this.mtimeMs = this.ctimeMs = now;
  }
  /** A child was added or removed: the directory itself changed. */
  touch(now: number): void {
    this.mtimeMs = this.ctimeMs = now;
  }
}

type Node = FileNode | DirNode;

function statOf(node: Node): Stat {
  const isFile = node instanceof FileNode;
  return {
    kind: isFile ? "file" : "dir",
    size: isFile ? node.size : 0,
    mode: node.mode,
    atimeMs: node.atimeMs,
    mtimeMs: node.mtimeMs,
    ctimeMs: node.ctimeMs,
  };
}

/** Entries (files and dirs) in a subtree, the subtree's root included, and their bytes. */
function measure(node: Node): Usage {
  // Iterative: renames can build trees deeper than the call stack.
  const total = { bytes: 0, files: 0 };
  const pending: Node[] = [node];
  for (let next = pending.pop(); next; next = pending.pop()) {
    total.files++;
    if (next instanceof FileNode) total.bytes += next.size;
    else for (const child of next.children.values()) pending.push(child);
  }
  return total;
}

export class MemoryVfs implements Vfs {
  readonly kind = "memory";
  private root: DirNode | null;
  private readonly quota: Quota;
  private bytes = 0;
  private files = 0;

  constructor(options?: { quota?: Quota }) {
    this.quota = options?.quota ?? DEFAULT_QUOTA;
    this.root = new DirNode(Date.now());
  }

  async stat(path: string): Promise<Stat | null> {
    const node = this.find(splitPath(path), path);
    return node ? statOf(node) : null;
  }

  async list(path: string): Promise<DirEntry[]> {
    return entriesOf(this.dirAt(path));
  }

  async openDir(path: string): Promise<DirHandle> {
    return new MemoryDir(this.dirAt(path), path);
  }

  async readFile(path: string): Promise<Uint8Array> {
    const file = this.fileAt(path);
    file.atimeMs = Date.now();
    return file.data.slice(0, file.size);
  }

  openRead(path: string): ReadableStream<Uint8Array> {
    // The file is looked up on the first read. Its bytes below `size` are never changed
    // in place (writes replace `data`, appends go past `size`), so the snapshot is stable.
    let data: Uint8Array | null = null;
    let size = 0;
    let offset = 0;
    return new ReadableStream<Uint8Array>(
      {
        pull: (controller) => {
          if (data === null) {
            const file = this.fileAt(path);
            file.atimeMs = Date.now();
            data = file.data;
            size = file.size;
          }
          if (offset >= size) {
            controller.close();
            return;
          }
          const end = Math.min(offset + CHUNK_BYTES, size);
          controller.enqueue(data.slice(offset, end));
          offset = end;
        },
      },
      { highWaterMark: 0 },
    );
  }

  async readlink(path: string): Promise<string> {
    const node = this.find(splitPath(path), path);
    if (!node) throw new VfsError("ENOENT", path);
    throw new VfsError("EINVAL", path, `EINVAL: not a symlink: ${path}`);
  }

  async writeFiles(files: FileWrite[]): Promise<void> {
    // The last write of a path wins, as if the batch were applied in order.
    const batch = new Map<string, FileWrite>();
    for (const file of files) batch.set(file.path, file);

    const newDirs = new Set<string>();
    let newFiles = 0;
    let freedBytes = 0;
    let addedBytes = 0;
    for (const [path, file] of batch) {
      const { parents, name } = splitChild(path);
      const existing = this.probeTarget(parents, name, path, newDirs);
      if (existing instanceof DirNode) throw new VfsError("EISDIR", path);
      if (existing) freedBytes += existing.size;
      else newFiles++;
      addedBytes += file.data.byteLength;
    }
    checkBatchConflicts(batch.keys());
    this.checkQuota(addedBytes - freedBytes, newFiles + newDirs.size, files[0]?.path ?? "");

    const now = Date.now();
    for (const [path, file] of batch) {
      const { parents, name } = splitChild(path);
      const dir = this.makeDirs(parents, now);
      const old = dir.children.get(name);
      if (old instanceof FileNode) this.bytes -= old.size;
      else this.files++;
      const data = new Uint8Array(file.data);
      dir.children.set(name, new FileNode(data, data.byteLength, (file.mode ?? FILE_MODE) & 0o777, now));
      this.bytes += data.byteLength;
      dir.touch(now);
    }
  }

  async appendFile(path: string, data: Uint8Array): Promise<void> {
    const { parents, name } = splitChild(path);
    const newDirs = new Set<string>();
    const existing = this.probeTarget(parents, name, path, newDirs);
    if (existing instanceof DirNode) throw new VfsError("EISDIR", path);
    this.checkQuota(data.byteLength, newDirs.size + (existing ? 0 : 1), path);

    const now = Date.now();
    if (existing) {
      appendTo(existing, data);
      existing.mtimeMs = existing.ctimeMs = now;
    } else {
      const dir = this.makeDirs(parents, now);
      dir.children.set(name, new FileNode(new Uint8Array(data), data.byteLength, FILE_MODE, now));
      dir.touch(now);
      this.files++;
    }
    this.bytes += data.byteLength;
  }

  async mkdir(path: string, options?: { parents?: boolean }): Promise<void> {
    const parts = splitPath(path);
    const parents = options?.parents ?? false;
    const name = parts.pop();
    if (name === undefined) {
      if (!parents) throw new VfsError("EEXIST", path);
      this.dirAt("");
      return;
    }
    const newDirs = new Set<string>();
    const existing = parents ? this.probeTarget(parts, name, path, newDirs) : this.child(this.dirOf(parts, path), name);
    if (existing) {
      if (parents && existing instanceof DirNode) return;
      throw new VfsError("EEXIST", path);
    }
    this.checkQuota(0, newDirs.size + 1, path);
    const now = Date.now();
    const dir = this.makeDirs(parts, now);
    dir.children.set(name, new DirNode(now));
    dir.touch(now);
    this.files++;
  }

  async rm(path: string, options?: { recursive?: boolean; force?: boolean }): Promise<void> {
    const { parents, name } = splitChild(path);
    const dir = this.find(parents, path);
    if (dir instanceof FileNode) throw new VfsError("ENOTDIR", path);
    const node = dir?.children.get(name);
    if (!dir || !node) {
      if (options?.force) return;
      throw new VfsError("ENOENT", path);
    }
    if (node instanceof DirNode && node.children.size > 0 && !options?.recursive) {
      throw new VfsError("ENOTEMPTY", path);
    }
    const removed = measure(node);
    dir.children.delete(name);
    dir.touch(Date.now());
    this.bytes -= removed.bytes;
    this.files -= removed.files;
  }

  async rename(from: string, to: string): Promise<void> {
    const src = splitChild(from);
    const dst = splitChild(to);
    const srcDir = this.dirOf(src.parents, from);
    const node = srcDir.children.get(src.name);
    if (!node) throw new VfsError("ENOENT", from);
    const dstDir = this.dirOf(dst.parents, to);
    if (from === to) return;
    if (to.startsWith(from + "/")) throw new VfsError("EINVAL", to, `EINVAL: cannot move ${from} into itself`);

    const old = dstDir.children.get(dst.name);
    if (old) this.checkReplace(node, old, to);
    const now = Date.now();
    srcDir.children.delete(src.name);
    dstDir.children.set(dst.name, node);
    node.ctimeMs = now;
    srcDir.touch(now);
    dstDir.touch(now);
    if (old) {
      const freed = measure(old);
      this.bytes -= freed.bytes;
      this.files -= freed.files;
    }
  }

  async usage(): Promise<Usage> {
    return { bytes: this.bytes, files: this.files };
  }

  async destroy(): Promise<void> {
    this.root = null;
    this.bytes = 0;
    this.files = 0;
  }

  /** The node at `parts`, or null when nothing is there. A file on the way is ENOTDIR. */
  private find(parts: readonly string[], path: string): Node | null {
    let node: Node | null = this.root;
    for (const part of parts) {
      if (node === null) return null;
      node = this.child(node, part, path);
    }
    return node;
  }

  private child(node: Node, name: string, path = name): Node | null {
    if (node instanceof FileNode) throw new VfsError("ENOTDIR", path);
    return node.children.get(name) ?? null;
  }

  /** The existing directory at `parts`: ENOENT when missing, ENOTDIR when a file. */
  private dirOf(parts: readonly string[], path: string): DirNode {
    const node = this.find(parts, path);
    if (!node) throw new VfsError("ENOENT", path);
    if (node instanceof FileNode) throw new VfsError("ENOTDIR", path);
    return node;
  }

  private dirAt(path: string): DirNode {
    return this.dirOf(splitPath(path), path);
  }

  private fileAt(path: string): FileNode {
    const node = this.find(splitPath(path), path);
    if (!node) throw new VfsError("ENOENT", path);
    if (node instanceof DirNode) throw new VfsError("EISDIR", path);
    return node;
  }

  /**
   * Looks up `parents/name` for a write that creates missing parents: returns what is
   * at the target (null if nothing) and adds the directories it would create to `newDirs`.
   */
  private probeTarget(parents: readonly string[], name: string, path: string, newDirs: Set<string>): Node | null {
    if (!this.root) throw new VfsError("ENOENT", path);
    let dir: DirNode = this.root;
    for (let i = 0; i < parents.length; i++) {
      const next = dir.children.get(parents[i]!);
      if (next instanceof FileNode) throw new VfsError("ENOTDIR", path);
      if (!next) {
        for (let j = i + 1; j <= parents.length; j++) newDirs.add(parents.slice(0, j).join("/"));
        return null;
      }
      dir = next;
    }
    return dir.children.get(name) ?? null;
  }

  /** Walks `parts`, creating missing directories; callers have validated the way already. */
  private makeDirs(parts: readonly string[], now: number): DirNode {
    if (!this.root) throw new VfsError("ENOENT", parts.join("/"));
    let dir: DirNode = this.root;
    for (const part of parts) {
      let next = dir.children.get(part);
      if (!next) {
        next = new DirNode(now);
        dir.children.set(part, next);
        dir.touch(now);
        this.files++;
      }
      if (next instanceof FileNode) throw new VfsError("ENOTDIR", parts.join("/"));
      dir = next;
    }
    return dir;
  }

  private checkQuota(deltaBytes: number, deltaFiles: number, path: string): void {
    if (this.bytes + deltaBytes > this.quota.maxBytes) {
      throw new VfsError("EQUOTA", path, `EQUOTA: the session's ${this.quota.maxBytes}-byte quota would be exceeded`);
    }
    if (this.files + deltaFiles > this.quota.maxFiles) {
      throw new VfsError("EQUOTA", path, `EQUOTA: the session's ${this.quota.maxFiles}-entry quota would be exceeded`);
    }
  }

  /** rename(2)'s rules for an existing destination. */
  private checkReplace(node: Node, old: Node, to: string): void {
    if (node instanceof FileNode && old instanceof DirNode) throw new VfsError("EISDIR", to);
    if (node instanceof DirNode && old instanceof FileNode) throw new VfsError("ENOTDIR", to);
    if (old instanceof DirNode && old.children.size > 0) throw new VfsError("ENOTEMPTY", to);
  }
}

function entriesOf(dir: DirNode): DirEntry[] {
  const names = [...dir.children.keys()].sort(compareNames);
  return names.map((name) => ({ name, ...statOf(dir.children.get(name)!) }));
}

/** A directory node held for a walk: it stays readable even if it is moved or removed meanwhile. */
class MemoryDir implements DirHandle {
  constructor(
    private readonly dir: DirNode,
    private readonly path: string,
  ) {}

  async stat(name: string): Promise<Stat | null> {
    const node = this.dir.children.get(name);
    return node ? statOf(node) : null;
  }

  async list(): Promise<DirEntry[]> {
    return entriesOf(this.dir);
  }

  async openDir(name: string): Promise<DirHandle> {
    const path = this.childPath(name);
    const node = this.dir.children.get(name);
    if (!node) throw new VfsError("ENOENT", path);
    if (node instanceof FileNode) throw new VfsError("ENOTDIR", path);
    return new MemoryDir(node, path);
  }

  async openFile(name: string): Promise<FileReader> {
    const path = this.childPath(name);
    const node = this.dir.children.get(name);
    if (!node) throw new VfsError("ENOENT", path);
    if (node instanceof DirNode) throw new VfsError("EISDIR", path);
    node.atimeMs = Date.now();
    return new MemoryFileReader(node);
  }

  async readlink(name: string): Promise<string> {
    const path = this.childPath(name);
    if (!this.dir.children.has(name)) throw new VfsError("ENOENT", path);
    throw new VfsError("EINVAL", path, `EINVAL: not a symlink: ${path}`);
  }

  async close(): Promise<void> {}

  private childPath(name: string): string {
    return joinPath(this.path, name);
  }
}

/**
 * Reads a snapshot of the file as it was when opened: its bytes below `size` are never
 * changed in place (writes replace `data`, appends go past `size`).
 */
class MemoryFileReader implements FileReader {
  readonly stat: Stat;
  private readonly data: Uint8Array;
  private offset = 0;

  constructor(file: FileNode) {
    this.stat = statOf(file);
    this.data = file.data.subarray(0, file.size);
  }

  async read(into: Uint8Array): Promise<number> {
    const n = Math.min(into.byteLength, this.data.byteLength - this.offset);
    into.set(this.data.subarray(this.offset, this.offset + n));
    this.offset += n;
    return n;
  }

  async close(): Promise<void> {}
}

/** Appends in place when there is spare capacity, else grows by half again to amortise copies. */
function appendTo(file: FileNode, data: Uint8Array): void {
  const needed = file.size + data.byteLength;
  if (needed > file.data.byteLength) {
    const grown = new Uint8Array(Math.max(needed, Math.floor(file.data.byteLength * 1.5)));
    grown.set(file.data.subarray(0, file.size));
    file.data = grown;
  }
  file.data.set(data, file.size);
  file.size = needed;
}
