// The behaviour every Vfs backend shares, run by memory.test.ts and disk.test.ts.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Quota, Vfs, VfsErrorCode } from "../../src/vfs/vfs.ts";
import { VfsError } from "../../src/vfs/vfs.ts";

export type VfsFactory = (options?: { quota?: Quota }) => Promise<Vfs>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

export async function readText(vfs: Vfs, path: string): Promise<string> {
  return decoder.decode(await vfs.readFile(path));
}

/** Asserts that `promise` rejects with a VfsError of `code`. */
export async function rejectsWith(promise: Promise<unknown>, code: VfsErrorCode): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof VfsError, `expected a VfsError, got ${String(e)}`);
    assert.equal(e.code, code);
    return true;
  });
}

/** Reads a stream to its end, counting chunks. */
export async function readStream(stream: ReadableStream<Uint8Array>): Promise<{ data: Uint8Array; chunks: number }> {
  const parts: Uint8Array[] = [];
  const reader = stream.getReader();
  for (let r = await reader.read(); !r.done; r = await reader.read()) parts.push(r.value);
  const data = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    data.set(part, offset);
    offset += part.byteLength;
  }
  return { data, chunks: parts.length };
}

/** Every entry below `dir` with its kind and (for files) content: to show that nothing changed. */
export async function snapshot(vfs: Vfs, dir = ""): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await vfs.list(dir)) {
    const path = dir === "" ? entry.name : `${dir}/${entry.name}`;
    if (entry.kind === "file") out[path] = `file:${await readText(vfs, path)}`;
    else if (entry.kind === "symlink") out[path] = `symlink:${await vfs.readlink(path)}`;
    else Object.assign(out, { [path]: "dir" }, await snapshot(vfs, path));
  }
  return out;
}

/** A deterministic pattern, so a misplaced chunk shows. */
function pattern(size: number): Uint8Array {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 31 + (i >>> 16)) & 0xff;
  return data;
}

export function vfsConformance(name: string, factory: VfsFactory): void {
  describe(`${name}: reading and writing`, () => {
    it("starts empty", async () => {
      const vfs = await factory();
      assert.deepEqual(await vfs.list(""), []);
      assert.equal((await vfs.stat(""))?.kind, "dir");
      assert.deepEqual(await vfs.usage(), { bytes: 0, files: 0 });
    });

    it("writes files, creating parents, and reads them back", async () => {
      const vfs = await factory();
      const before = Date.now();
      await vfs.writeFiles([
        { path: "a/b/c.txt", data: bytes("hello") },
        { path: "top.txt", data: bytes("") },
      ]);
      assert.equal(await readText(vfs, "a/b/c.txt"), "hello");
      assert.equal(await readText(vfs, "top.txt"), "");
      const file = await vfs.stat("a/b/c.txt");
      assert.ok(file);
      assert.equal(file.kind, "file");
      assert.equal(file.size, 5);
      assert.equal(file.mode, 0o644);
      assert.ok(file.mtimeMs >= before - 1000 && file.mtimeMs <= Date.now() + 1000, "mtime is real");
      assert.ok(file.atimeMs > 0 && file.ctimeMs > 0);
      const dir = await vfs.stat("a/b");
      assert.equal(dir?.kind, "dir");
      assert.equal(dir?.mode, 0o755);
      assert.deepEqual(await vfs.usage(), { bytes: 5, files: 4 });
    });

    it("applies the requested mode, permission bits only", async () => {
      const vfs = await factory();
      await vfs.writeFiles([
        { path: "run.sh", data: bytes("#!/bin/sh\n"), mode: 0o755 },
        { path: "secret", data: bytes("x"), mode: 0o600 },
        { path: "suid", data: bytes("x"), mode: 0o4755 },
      ]);
      assert.equal((await vfs.stat("run.sh"))?.mode, 0o755);
      assert.equal((await vfs.stat("secret"))?.mode, 0o600);
      assert.equal((await vfs.stat("suid"))?.mode, 0o755);
    });

    it("keeps its own copy of written bytes", async () => {
      const vfs = await factory();
      const data = bytes("abc");
      await vfs.writeFiles([{ path: "f", data }]);
      data[0] = 0x7a;
      const read = await vfs.readFile("f");
      assert.equal(decoder.decode(read), "abc");
      read[1] = 0x7a;
      assert.equal(await readText(vfs, "f"), "abc");
    });

    it("overwrites a file and its size", async () => {
      const vfs = await factory();
      await vfs.writeFiles([{ path: "f.txt", data: bytes("long content") }]);
      await vfs.writeFiles([{ path: "f.txt", data: bytes("short") }]);
      assert.equal(await readText(vfs, "f.txt"), "short");
      assert.equal((await vfs.stat("f.txt"))?.size, 5);
      assert.deepEqual(await vfs.usage(), { bytes: 5, files: 1 });
    });

    it("lets the last write of a path in one batch win", async () => {
      const vfs = await factory();
      await vfs.writeFiles([
        { path: "f", data: bytes("first") },
        { path: "f", data: bytes("second") },
      ]);
      assert.equal(await readText(vfs, "f"), "second");
      assert.deepEqual(await vfs.usage(), { bytes: 6, files: 1 });
    });

    it("lists entries sorted by name with their kinds and sizes", async () => {
      const vfs = await factory();
      await vfs.writeFiles([
        { path: "b.txt", data: bytes("bb") },
        { path: "a.txt", data: bytes("a") },
        { path: "C/x", data: bytes("x") },
      ]);
      const entries = await vfs.list("");
      assert.deepEqual(
        entries.map((e) => [e.name, e.kind]),
        [
          ["C", "dir"],
          ["a.txt", "file"],
          ["b.txt", "file"],
        ],
      );
      assert.equal(entries[2]?.size, 2);
      assert.equal(entries[1]?.mode, 0o644);
      assert.deepEqual((await vfs.list("C")).map((e) => e.name), ["x"]);
    });

    it("reports what is missing or of the wrong kind", async () => {
      const vfs = await factory();
      await vfs.writeFiles([{ path: "d/f", data: bytes("x") }]);
      assert.equal(await vfs.stat("nope"), null);
      assert.equal(await vfs.stat("nope/deeper"), null);
      await rejectsWith(vfs.readFile("nope"), "ENOENT");
      await rejectsWith(vfs.readFile("nope/deeper"), "ENOENT");
      await rejectsWith(vfs.list("nope"), "ENOENT");
      await rejectsWith(vfs.readFile("d"), "EISDIR");
      await rejectsWith(vfs.list("d/f"), "ENOTDIR");
      await rejectsWith(vfs.readFile("d/f/g"), "ENOTDIR");
      await rejectsWith(vfs.stat("d/f/g"), "ENOTDIR");
      await rejectsWith(vfs.readlink("d/f"), "EINVAL");
      await rejectsWith(vfs.readlink("nope"), "ENOENT");
    });

    it("refuses paths that are not session paths", async () => {
      const vfs = await factory();
      for (const bad of ["../x", "a/../../x", "/etc/passwd", "a\0b", "a//b", "./a", "a/"]) {
        await rejectsWith(vfs.readFile(bad), "EINVAL");
        await rejectsWith(vfs.writeFiles([{ path: bad, data: bytes("x") }]), "EINVAL");
        await rejectsWith(vfs.mkdir(bad, { parents: true }), "EINVAL");
      }
      await rejectsWith(vfs.writeFiles([{ path: "", data: bytes("x") }]), "EINVAL");
      await rejectsWith(vfs.rm("", { recursive: true }), "EINVAL");
      await rejectsWith(vfs.rename("", "x"), "EINVAL");
      assert.deepEqual(await vfs.list(""), []);
    });
  });

  describe(`${name}: writeFiles validation`, () => {
    it("refuses a file where a directory is needed (ENOTDIR), changing nothing", async () => {
      const vfs = await factory();
      await vfs.writeFiles([{ path: "f", data: bytes("file") }]);
      const before = await snapshot(vfs);
      await rejectsWith(vfs.writeFiles([{ path: "ok", data: bytes("x") }, { path: "f/child", data: bytes("x") }]), "ENOTDIR");
      await rejectsWith(vfs.writeFiles([{ path: "f/a/b", data: bytes("x") }]), "ENOTDIR");
      assert.deepEqual(await snapshot(vfs), before);
    });

    it("refuses a directory at the target (EISDIR), changing nothing", async () => {
      const vfs = await factory();
      await vfs.mkdir("d");
      await rejectsWith(vfs.writeFiles([{ path: "new", data: bytes("x") }, { path: "d", data: bytes("x") }]), "EISDIR");
      assert.deepEqual(await snapshot(vfs), { d: "dir" });
    });

    it("refuses a batch that needs one path as both file and directory", async () => {
      const vfs = await factory();
      await rejectsWith(vfs.writeFiles([{ path: "a", data: bytes("x") }, { path: "a/b", data: bytes("y") }]), "ENOTDIR");
      await rejectsWith(vfs.writeFiles([{ path: "a/b/c", data: bytes("y") }, { path: "a/b", data: bytes("x") }]), "ENOTDIR");
      assert.deepEqual(await snapshot(vfs), {});
    });
  });

  describe(`${name}: appendFile`, () => {
    it("creates the file and its parents, then appends", async () => {
      const vfs = await factory();
      await vfs.appendFile("logs/out.txt", bytes("one "));
      await vfs.appendFile("logs/out.txt", bytes("two"));
      assert.equal(await readText(vfs, "logs/out.txt"), "one two");
      assert.equal((await vfs.stat("logs/out.txt"))?.mode, 0o644);
      assert.deepEqual(await vfs.usage(), { bytes: 7, files: 2 });
    });

    it("appends many small chunks", async () => {
      const vfs = await factory();
      let expected = "";
      for (let i = 0; i < 200; i++) {
        await vfs.appendFile("f", bytes(`${i},`));
        expected += `${i},`;
      }
      assert.equal(await readText(vfs, "f"), expected);
      assert.equal((await vfs.usage()).bytes, expected.length);
    });

    it("refuses a directory and a file on the way", async () => {
      const vfs = await factory();
      await vfs.writeFiles([{ path: "d/f", data: bytes("x") }]);
      await rejectsWith(vfs.appendFile("d", bytes("x")), "EISDIR");
      await rejectsWith(vfs.appendFile("d/f/g", bytes("x")), "ENOTDIR");
      await rejectsWith(vfs.appendFile("", bytes("x")), "EINVAL");
    });
  });

  describe(`${name}: mkdir`, () => {
    it("creates directories, with and without parents", async () => {
      const vfs = await factory();
      await vfs.mkdir("a");
      await rejectsWith(vfs.mkdir("a"), "EEXIST");
      await rejectsWith(vfs.mkdir("x/y"), "ENOENT");
      await vfs.mkdir("x/y/z", { parents: true });
      await vfs.mkdir("x/y", { parents: true });
      await vfs.mkdir("", { parents: true });
      await rejectsWith(vfs.mkdir(""), "EEXIST");
      assert.equal((await vfs.stat("x/y/z"))?.kind, "dir");
      assert.equal((await vfs.stat("x/y/z"))?.mode, 0o755);
      assert.deepEqual(await vfs.usage(), { bytes: 0, files: 4 });
    });

    it("refuses files in the way", async () => {
      const vfs = await factory();
      await vfs.writeFiles([{ path: "f", data: bytes("x") }]);
      await rejectsWith(vfs.mkdir("f"), "EEXIST");
      await rejectsWith(vfs.mkdir("f", { parents: true }), "EEXIST");
      await rejectsWith(vfs.mkdir("f/d"), "ENOTDIR");
      await rejectsWith(vfs.mkdir("f/d/e", { parents: true }), "ENOTDIR");
    });
  });

  describe(`${name}: rm`, () => {
    it("removes files, empty directories and, recursively, trees", async () => {
      const vfs = await factory();
      await vfs.writeFiles([
        { path: "f", data: bytes("12345") },
        { path: "t/a/b", data: bytes("123") },
        { path: "t/c", data: bytes("1") },
      ]);
      await vfs.mkdir("empty");
      await vfs.rm("f");
      await vfs.rm("empty");
      await rejectsWith(vfs.rm("t"), "ENOTEMPTY");
      assert.deepEqual(await vfs.usage(), { bytes: 4, files: 4 });
      await vfs.rm("t", { recursive: true });
      assert.deepEqual(await vfs.list(""), []);
      assert.deepEqual(await vfs.usage(), { bytes: 0, files: 0 });
    });

    it("reports missing entries unless forced", async () => {
      const vfs = await factory();
      await vfs.writeFiles([{ path: "f", data: bytes("x") }]);
      await rejectsWith(vfs.rm("nope"), "ENOENT");
      await rejectsWith(vfs.rm("a/b/c"), "ENOENT");
      await vfs.rm("nope", { force: true });
      await vfs.rm("a/b/c", { force: true, recursive: true });
      await rejectsWith(vfs.rm("f/x"), "ENOTDIR");
    });
  });

  describe(`${name}: rename`, () => {
    it("moves files and directories", async () => {
      const vfs = await factory();
      await vfs.writeFiles([
        { path: "a.txt", data: bytes("A") },
        { path: "dir/inner/x", data: bytes("X") },
      ]);
      await vfs.mkdir("dest");
      await vfs.rename("a.txt", "dest/b.txt");
      await vfs.rename("dir", "dest/moved");
      assert.equal(await readText(vfs, "dest/b.txt"), "A");
      assert.equal(await readText(vfs, "dest/moved/inner/x"), "X");
      assert.equal(await vfs.stat("a.txt"), null);
      assert.equal(await vfs.stat("dir"), null);
      assert.deepEqual(await vfs.usage(), { bytes: 2, files: 5 });
    });

    it("replaces a file at the destination", async () => {
      const vfs = await factory();
      await vfs.writeFiles([
        { path: "new", data: bytes("new") },
        { path: "old", data: bytes("old content") },
      ]);
      await vfs.rename("new", "old");
      assert.equal(await readText(vfs, "old"), "new");
      assert.deepEqual(await vfs.usage(), { bytes: 3, files: 1 });
    });

    it("replaces an empty directory with a directory", async () => {
      const vfs = await factory();
      await vfs.writeFiles([{ path: "src/f", data: bytes("f") }]);
      await vfs.mkdir("empty");
      await vfs.rename("src", "empty");
      assert.equal(await readText(vfs, "empty/f"), "f");
      assert.deepEqual(await vfs.usage(), { bytes: 1, files: 2 });
    });

    it("follows rename(2)'s rules for what is in the way", async () => {
      const vfs = await factory();
      await vfs.writeFiles([
        { path: "f", data: bytes("f") },
        { path: "d/x", data: bytes("x") },
        { path: "e/y", data: bytes("y") },
      ]);
      const before = await snapshot(vfs);
      await rejectsWith(vfs.rename("f", "d"), "EISDIR");
      await rejectsWith(vfs.rename("d", "f"), "ENOTDIR");
      await rejectsWith(vfs.rename("d", "e"), "ENOTEMPTY");
      await rejectsWith(vfs.rename("d", "d/sub"), "EINVAL");
      await rejectsWith(vfs.rename("d", "d/x/deeper"), "ENOTDIR");
      await rejectsWith(vfs.rename("nope", "z"), "ENOENT");
      await rejectsWith(vfs.rename("f", "missing/z"), "ENOENT");
      await rejectsWith(vfs.rename("f", ""), "EINVAL");
      assert.deepEqual(await snapshot(vfs), before);
    });

    it("refuses to move a directory into its own subtree", async () => {
      const vfs = await factory();
      await vfs.mkdir("a/b/c", { parents: true });
      await rejectsWith(vfs.rename("a", "a/b/c/a"), "EINVAL");
      await rejectsWith(vfs.rename("a/b", "a/b/x"), "EINVAL");
      assert.deepEqual(await snapshot(vfs), { a: "dir", "a/b": "dir", "a/b/c": "dir" });
    });

    it("treats a move onto itself as done", async () => {
      const vfs = await factory();
      await vfs.writeFiles([{ path: "f", data: bytes("f") }]);
      await vfs.rename("f", "f");
      assert.equal(await readText(vfs, "f"), "f");
    });
  });

  describe(`${name}: openRead`, () => {
    it("streams a 3 MiB file in chunks", async () => {
      const vfs = await factory();
      const data = pattern(3 * 1024 * 1024 + 123);
      await vfs.writeFiles([{ path: "big.bin", data }]);
      const { data: read, chunks } = await readStream(vfs.openRead("big.bin"));
      assert.equal(read.byteLength, data.byteLength);
      assert.ok(Buffer.from(read).equals(Buffer.from(data)), "content matches");
      assert.ok(chunks >= 48, `expected 64 KiB chunks, got ${chunks}`);
    });

    it("streams an empty file", async () => {
      const vfs = await factory();
      await vfs.writeFiles([{ path: "empty", data: new Uint8Array(0) }]);
      assert.equal((await readStream(vfs.openRead("empty"))).data.byteLength, 0);
    });

    it("surfaces errors on the first read", async () => {
      const vfs = await factory();
      await vfs.mkdir("d");
      const missing = vfs.openRead("nope");
      const dir = vfs.openRead("d");
      await rejectsWith(readStream(missing), "ENOENT");
      await rejectsWith(readStream(dir), "EISDIR");
    });

    it("can be cancelled part way", async () => {
      const vfs = await factory();
      await vfs.writeFiles([{ path: "big", data: pattern(1024 * 1024) }]);
      const reader = vfs.openRead("big").getReader();
      const first = await reader.read();
      assert.equal(first.value?.byteLength, 64 * 1024);
      await reader.cancel();
      await vfs.rm("big");
    });
  });

  describe(`${name}: openDir`, () => {
    it("lists, stats and opens children relative to the handle", async () => {
      const vfs = await factory();
      const data = pattern(300 * 1024 + 7);
      await vfs.writeFiles([
        { path: "a/big.bin", data, mode: 0o600 },
        { path: "a/b/c.txt", data: bytes("sea") },
      ]);
      const root = await vfs.openDir("");
      const a = await root.openDir("a");
      assert.deepEqual(await a.list(), await vfs.list("a"));
      assert.deepEqual(await a.stat("big.bin"), await vfs.stat("a/big.bin"));
      assert.equal(await a.stat("nope"), null);
      const file = await a.openFile("big.bin");
      assert.ok(file);
      assert.equal(file.stat.kind, "file");
      assert.equal(file.stat.size, data.byteLength);
      assert.equal(file.stat.mode, 0o600);
      const parts: Uint8Array[] = [];
      for (;;) {
        const into = new Uint8Array(100 * 1024);
        const n = await file.read(into);
        if (n === 0) break;
        parts.push(into.subarray(0, n));
      }
      await file.close();
      assert.ok(Buffer.concat(parts).equals(Buffer.from(data)), "content matches");
      const b = await a.openDir("b");
      const c = await b.openFile("c.txt");
      const into = new Uint8Array(10);
      assert.equal(await c!.read(into), 3);
      assert.equal(new TextDecoder().decode(into.subarray(0, 3)), "sea");
      await c!.close();
      for (const handle of [b, a, root]) await handle.close();
    });

    it("opens a directory by session path", async () => {
      const vfs = await factory();
      await vfs.writeFiles([{ path: "x/y/z.txt", data: bytes("zed") }]);
      const y = await vfs.openDir("x/y");
      assert.deepEqual((await y.list()).map((e) => e.name), ["z.txt"]);
      await y.close();
    });

    it("refuses what is not there or of the wrong kind", async () => {
      const vfs = await factory();
      await vfs.writeFiles([{ path: "d/f.txt", data: bytes("f") }]);
      await rejectsWith(vfs.openDir("missing"), "ENOENT");
      await rejectsWith(vfs.openDir("d/f.txt"), "ENOTDIR");
      const d = await vfs.openDir("d");
      await rejectsWith(d.openDir("missing"), "ENOENT");
      await rejectsWith(d.openDir("f.txt"), "ENOTDIR");
      await rejectsWith(d.openFile("missing"), "ENOENT");
      await rejectsWith(d.readlink("missing"), "ENOENT");
      await rejectsWith(d.readlink("f.txt"), "EINVAL");
      const root = await vfs.openDir("");
      await rejectsWith(root.openFile("d"), "EISDIR");
      await Promise.all([d.close(), root.close()]);
    });

    it("keeps naming the directory it opened after it is moved", async () => {
      const vfs = await factory();
      await vfs.writeFiles([{ path: "old/f.txt", data: bytes("moved") }]);
      const dir = await vfs.openDir("old");
      await vfs.rename("old", "new");
      await vfs.mkdir("old");
      assert.deepEqual((await dir.list()).map((e) => e.name), ["f.txt"]);
      const file = await dir.openFile("f.txt");
      const into = new Uint8Array(16);
      assert.equal(new TextDecoder().decode(into.subarray(0, await file!.read(into))), "moved");
      await file!.close();
      await dir.close();
    });

    it("reads the size the file had when opened", async () => {
      const vfs = await factory();
      await vfs.writeFiles([{ path: "f", data: bytes("12345") }]);
      const root = await vfs.openDir("");
      const file = await root.openFile("f");
      assert.equal(file!.stat.size, 5);
      await file!.close();
      await root.close();
    });
  });

  describe(`${name}: quota`, () => {
    it("refuses writes past the byte quota, changing nothing", async () => {
      const vfs = await factory({ quota: { maxBytes: 100, maxFiles: 100 } });
      await vfs.writeFiles([{ path: "a", data: new Uint8Array(60) }]);
      const before = await snapshot(vfs);
      await rejectsWith(vfs.writeFiles([{ path: "b", data: new Uint8Array(41) }]), "EQUOTA");
      await rejectsWith(vfs.appendFile("a", new Uint8Array(41)), "EQUOTA");
      await rejectsWith(vfs.appendFile("c/d", new Uint8Array(41)), "EQUOTA");
      assert.deepEqual(await snapshot(vfs), before);
      assert.deepEqual(await vfs.usage(), { bytes: 60, files: 1 });
      await vfs.writeFiles([{ path: "b", data: new Uint8Array(40) }]);
      assert.deepEqual(await vfs.usage(), { bytes: 100, files: 2 });
    });

    it("counts a replaced file's bytes as freed", async () => {
      const vfs = await factory({ quota: { maxBytes: 100, maxFiles: 100 } });
      await vfs.writeFiles([{ path: "a", data: new Uint8Array(90) }]);
      await vfs.writeFiles([{ path: "a", data: new Uint8Array(100) }]);
      assert.deepEqual(await vfs.usage(), { bytes: 100, files: 1 });
    });

    it("refuses entries past the file quota, directories included", async () => {
      const vfs = await factory({ quota: { maxBytes: 1000, maxFiles: 3 } });
      await vfs.writeFiles([{ path: "a/b", data: bytes("x") }]);
      await rejectsWith(vfs.writeFiles([{ path: "c/d", data: bytes("x") }]), "EQUOTA");
      await rejectsWith(vfs.mkdir("x/y", { parents: true }), "EQUOTA");
      await vfs.mkdir("c");
      await rejectsWith(vfs.writeFiles([{ path: "c/d", data: bytes("x") }]), "EQUOTA");
      await rejectsWith(vfs.appendFile("a/new", bytes("x")), "EQUOTA");
      await rejectsWith(vfs.mkdir("e"), "EQUOTA");
      await vfs.writeFiles([{ path: "a/b", data: bytes("replaced") }]);
      await vfs.appendFile("a/b", bytes("!"));
      assert.deepEqual(await vfs.usage(), { bytes: 9, files: 3 });
    });

    it("rejects a batch whose third file breaks the quota without writing the first two", async () => {
      const vfs = await factory({ quota: { maxBytes: 100, maxFiles: 100 } });
      await vfs.writeFiles([{ path: "keep", data: bytes("kept") }]);
      const before = await snapshot(vfs);
      const batch = [
        { path: "one", data: new Uint8Array(30) },
        { path: "dir/two", data: new Uint8Array(30) },
        { path: "three", data: new Uint8Array(40) },
      ];
      await rejectsWith(vfs.writeFiles(batch), "EQUOTA");
      assert.deepEqual(await snapshot(vfs), before);
      assert.deepEqual(await vfs.usage(), { bytes: 4, files: 1 });

      const counted = await factory({ quota: { maxBytes: 1000, maxFiles: 3 } });
      await rejectsWith(counted.writeFiles([{ path: "a", data: bytes("a") }, { path: "b", data: bytes("b") }, { path: "c/d", data: bytes("c") }]), "EQUOTA");
      assert.deepEqual(await snapshot(counted), {});
      assert.deepEqual(await counted.usage(), { bytes: 0, files: 0 });
    });
  });

  describe(`${name}: usage`, () => {
    it("follows overwrites, removals and renames", async () => {
      const vfs = await factory();
      await vfs.writeFiles([
        { path: "a", data: new Uint8Array(10) },
        { path: "d/b", data: new Uint8Array(20) },
        { path: "d/e/c", data: new Uint8Array(30) },
      ]);
      assert.deepEqual(await vfs.usage(), { bytes: 60, files: 5 });
      await vfs.writeFiles([{ path: "a", data: new Uint8Array(5) }]);
      assert.deepEqual(await vfs.usage(), { bytes: 55, files: 5 });
      await vfs.rename("d/b", "a");
      assert.deepEqual(await vfs.usage(), { bytes: 50, files: 4 });
      await vfs.rename("d/e", "e");
      assert.deepEqual(await vfs.usage(), { bytes: 50, files: 4 });
      await vfs.rm("e", { recursive: true });
      assert.deepEqual(await vfs.usage(), { bytes: 20, files: 2 });
      await vfs.rm("d");
      await vfs.rm("a");
      assert.deepEqual(await vfs.usage(), { bytes: 0, files: 0 });
    });
  });

  describe(`${name}: destroy`, () => {
    it("leaves nothing behind", async () => {
      const vfs = await factory();
      await vfs.writeFiles([{ path: "a/b", data: bytes("x") }]);
      await vfs.destroy();
      await rejectsWith(vfs.readFile("a/b"), "ENOENT");
      await vfs.destroy();
    });
  });
}
