import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { extract, type Header } from "tar-stream";
import { tarStream } from "../../src/archive/tar.ts";
import { MemoryVfs } from "../../src/vfs/memory.ts";
import { DiskVfs } from "../../src/vfs/disk.ts";
import { tracked } from "./tracked.ts";

const MiB = 1024 * 1024;
const text = (s: string) => new TextEncoder().encode(s);

interface Extracted {
  header: Header;
  data: Uint8Array;
}

/** Feeds a tar stream through tar-stream's extract, honouring its backpressure. */
async function untar(stream: ReadableStream<Uint8Array>): Promise<Extracted[]> {
  const ex = extract();
  const entries: Extracted[] = [];
  const collected = (async () => {
    for await (const entry of ex) {
      const chunks: Uint8Array[] = [];
      for await (const chunk of entry) chunks.push(chunk as Uint8Array);
      entries.push({ header: entry.header, data: concat(chunks) });
    }
  })();
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (!ex.write(value)) await new Promise<void>((resolve) => ex.once("drain", () => resolve()));
  }
  ex.end(null);
  await collected;
  return entries;
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

/**
 * A full garbage collection, so memory samples measure what is still referenced (buffering)
 * rather than garbage the collector has not got to yet: Bun.gc on Bun, V8's gc on Node.
 */
const collectGarbage: () => void = (() => {
  const bun = (globalThis as { Bun?: { gc(force: boolean): void } }).Bun;
  if (bun) return () => bun.gc(true);
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as (() => void) | undefined;
  return gc ?? (() => {});
})();

describe("tarStream", () => {
  let vfs: MemoryVfs;
  const longName = "d".repeat(60) + "/" + "f".repeat(80) + ".txt";

  before(async () => {
    vfs = new MemoryVfs();
    await vfs.writeFiles([
      { path: "src/lib/a.c", data: text("int main() { return 0; }\n") },
      { path: "src/lib/run.sh", data: text("#!/bin/sh\necho hi\n"), mode: 0o755 },
      { path: "src/lib/sub/b.txt", data: text("bee") },
      { path: "src/lib/héllo.txt", data: text("unicode name") },
      { path: `src/lib/${longName}`, data: text("long name") },
      { path: "src/lib/zero.bin", data: new Uint8Array(0) },
      { path: "top.txt", data: text("top") },
    ]);
    await vfs.mkdir("src/lib/empty");
  });

  it("round-trips a directory with names rooted at the given name, sorted, dirs first", async () => {
    const entries = await untar(tarStream(vfs, "src/lib", "lib"));
    assert.deepEqual(
      entries.map((e) => [e.header.name, e.header.type]),
      [
        ["lib/", "directory"],
        ["lib/a.c", "file"],
        [`lib/${"d".repeat(60)}/`, "directory"],
        [`lib/${longName}`, "file"],
        ["lib/empty/", "directory"],
        ["lib/héllo.txt", "file"],
        ["lib/run.sh", "file"],
        ["lib/sub/", "directory"],
        ["lib/sub/b.txt", "file"],
        ["lib/zero.bin", "file"],
      ],
    );
    const byName = new Map(entries.map((e) => [e.header.name, e]));
    assert.equal(new TextDecoder().decode(byName.get("lib/a.c")!.data), "int main() { return 0; }\n");
    assert.equal(new TextDecoder().decode(byName.get("lib/héllo.txt")!.data), "unicode name");
    assert.equal(new TextDecoder().decode(byName.get(`lib/${longName}`)!.data), "long name");
    assert.equal(byName.get("lib/zero.bin")!.data.byteLength, 0);
    assert.equal(byName.get("lib/run.sh")!.header.mode & 0o7777, 0o755);
    assert.equal(byName.get("lib/a.c")!.header.mode & 0o7777, 0o644);
    assert.equal(byName.get("lib/sub/")!.header.mode & 0o7777, 0o755);
    const stat = (await vfs.stat("src/lib/a.c"))!;
    assert.equal(byName.get("lib/a.c")!.header.mtime.getTime(), Math.floor(stat.mtimeMs / 1000) * 1000);
  });

  it("archives a single file under its name", async () => {
    const entries = await untar(tarStream(vfs, "top.txt", "top.txt"));
    assert.equal(entries.length, 1);
    assert.equal(entries[0]!.header.name, "top.txt");
    assert.equal(new TextDecoder().decode(entries[0]!.data), "top");
  });

  it("archives the session root", async () => {
    const entries = await untar(tarStream(vfs, "", "work"));
    const names = entries.map((e) => e.header.name);
    assert.equal(names[0], "work/");
    assert.ok(names.includes("work/src/lib/sub/b.txt"));
    assert.ok(names.includes("work/top.txt"));
  });

  it("does not read anything before the first pull", async () => {
    const t = tracked(vfs);
    const stream = tarStream(t.vfs, "src/lib", "lib");
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(t.files.length, 0);
    assert.equal(t.openDirs(), 0);
    await stream.cancel();
  });

  it("errors the stream when the path does not exist", async () => {
    await assert.rejects(untar(tarStream(vfs, "nope", "nope")), (e: Error & { code?: string }) => e.code === "ENOENT");
  });

  it("errors the stream when a file vanishes mid-archive", async () => {
    const local = new MemoryVfs();
    await local.writeFiles([
      { path: "d/a.txt", data: new Uint8Array(200 * 1024) },
      { path: "d/b.txt", data: text("gone soon") },
    ]);
    // b.txt is removed after d was listed but before b.txt is opened.
    const t = tracked(local, (name) => {
      if (name === "a.txt") void local.rm("d/b.txt");
    });
    await assert.rejects(untar(tarStream(t.vfs, "d", "d")), (e: Error & { code?: string }) => e.code === "ENOENT");
    assert.equal(t.openDirs(), 0);
    assert.ok(t.files.every((f) => f.closed));
  });

  it("stores symlinks as symlinks, never following them (DiskVfs)", async () => {
    const parent = await mkdtemp(join(tmpdir(), "kiln-tar-"));
    try {
      const disk = await DiskVfs.create(join(parent, "session"));
      await disk.writeFiles([{ path: "proj/a.txt", data: text("target content") }]);
      await symlink("a.txt", join(disk.hostRoot!, "proj/link"));
      await symlink("/etc/passwd", join(disk.hostRoot!, "proj/outside"));
      await symlink("../missing", join(disk.hostRoot!, "proj/dangling"));
      const entries = await untar(tarStream(disk, "proj", "proj"));
      const summary = entries.map((e) => [e.header.name, e.header.type, e.header.linkname ?? null, e.data.byteLength]);
      assert.deepEqual(summary, [
        ["proj/", "directory", null, 0],
        ["proj/a.txt", "file", null, 14],
        ["proj/dangling", "symlink", "../missing", 0],
        ["proj/link", "symlink", "a.txt", 0],
        ["proj/outside", "symlink", "/etc/passwd", 0],
      ]);
      // A symlink as the archived path itself is stored as a link too.
      const single = await untar(tarStream(disk, "proj/link", "link"));
      assert.deepEqual(single.map((e) => [e.header.name, e.header.type, e.header.linkname]), [["link", "symlink", "a.txt"]]);
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });

  it("streams a 50 MiB file to a slow consumer without buffering it", async () => {
    const big = new MemoryVfs();
    const data = new Uint8Array(50 * MiB);
    for (let i = 0; i < data.length; i += 4096) data[i] = (i / 4096) & 0xff;
    await big.writeFiles([{ path: "big/blob.bin", data }]);
    const t = tracked(big);

    collectGarbage();
    const baseline = process.memoryUsage();
    let peakRss = baseline.rss;
    let peakHeap = baseline.heapUsed;
    let maxAhead = 0;
    let received = 0;
    let checksum = 0;
    const reader = tarStream(t.vfs, "big", "big").getReader();
    for (let n = 0; ; n++) {
      const { done, value } = await reader.read();
      if (done) break;
      // Samples the file's bytes, which start after two 512-byte headers ("big/" and the file's).
      for (let i = 0; i < value.length; i++) {
        const at = received + i - 1024;
        if (at >= 0 && at < data.length && at % 4096 === 0) checksum = (checksum * 31 + value[i]!) | 0;
      }
      received += value.byteLength;
      // How far the Vfs reads run ahead of the consumer: the bytes buffered in between.
      maxAhead = Math.max(maxAhead, t.bytesRead() - received);
      if (n % 16 === 0) {
        await new Promise((resolve) => setTimeout(resolve, 2));
        collectGarbage();
        const usage = process.memoryUsage();
        peakRss = Math.max(peakRss, usage.rss);
        peakHeap = Math.max(peakHeap, usage.heapUsed);
      }
    }
    assert.ok(received > 50 * MiB);
    assert.ok(t.files.every((f) => f.closed));
    assert.equal(t.openDirs(), 0);
    assert.ok(maxAhead < 1 * MiB, `the Vfs ran ${maxAhead} bytes ahead of the consumer`);
    assert.ok(peakRss - baseline.rss < 32 * MiB, `RSS grew by ${(peakRss - baseline.rss) / MiB} MiB`);
    assert.ok(peakHeap - baseline.heapUsed < 32 * MiB, `heap grew by ${(peakHeap - baseline.heapUsed) / MiB} MiB`);
    let expected = 0;
    for (let i = 0; i < data.length; i += 4096) expected = (expected * 31 + data[i]!) | 0;
    assert.equal(checksum, expected);
  });

  it("stops the walk and releases the file reader when cancelled", async () => {
    const many = new MemoryVfs();
    await many.writeFiles(
      Array.from({ length: 10 }, (_, i) => ({ path: `m/f${i}.bin`, data: new Uint8Array(MiB) })),
    );
    const t = tracked(many);
    const reader = tarStream(t.vfs, "m", "m").getReader();
    let received = 0;
    while (received < 300 * 1024) {
      const { done, value } = await reader.read();
      assert.equal(done, false);
      received += value!.byteLength;
    }
    await reader.cancel();
    // The file being sent, closed; the others never opened.
    assert.deepEqual(t.files, [{ name: "f0.bin", closed: true }]);
    assert.equal(t.openDirs(), 0);
    assert.ok(t.bytesRead() < MiB);
  });
});
