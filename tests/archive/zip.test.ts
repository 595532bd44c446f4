import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Uint8ArrayReader, Uint8ArrayWriter, ZipReader, type Entry } from "@zip.js/zip.js";
import { zipStream } from "../../src/archive/zip.ts";
import { MemoryVfs } from "../../src/vfs/memory.ts";
import { DiskVfs } from "../../src/vfs/disk.ts";
import { tracked } from "./tracked.ts";

const MiB = 1024 * 1024;
const text = (s: string) => new TextEncoder().encode(s);
const decode = (b: Uint8Array) => new TextDecoder().decode(b);

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
  }
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

async function unzip(bytes: Uint8Array): Promise<{ entry: Entry; data: Uint8Array | null }[]> {
  const reader = new ZipReader(new Uint8ArrayReader(bytes));
  const out: { entry: Entry; data: Uint8Array | null }[] = [];
  for (const entry of await reader.getEntries()) {
    out.push({ entry, data: entry.directory ? null : await entry.getData(new Uint8ArrayWriter()) });
  }
  await reader.close();
  return out;
}

/** Incompressible bytes, so deflated output tracks input one for one. */
function noise(size: number): Uint8Array {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(data.subarray(i, Math.min(i + 65536, size)));
  return data;
}

describe("zipStream", () => {
  let vfs: MemoryVfs;

  before(async () => {
    vfs = new MemoryVfs();
    await vfs.writeFiles([
      { path: "src/lib/a.c", data: text("int a;\n") },
      { path: "src/lib/run.sh", data: text("#!/bin/sh\n"), mode: 0o755 },
      { path: "src/lib/sub/b.txt", data: text("bee".repeat(1000)) },
      { path: "src/lib/héllo.txt", data: text("unicode") },
      { path: "notes.txt", data: text("notes") },
      { path: "zero.bin", data: new Uint8Array(0) },
    ]);
    await vfs.mkdir("src/lib/empty");
  });

  it("zips files and directories recursively under the given names", async () => {
    const bytes = await readAll(
      zipStream(vfs, [
        { path: "src/lib", name: "lib" },
        { path: "notes.txt", name: "notes.txt" },
        { path: "zero.bin", name: "renamed.bin" },
      ]),
    );
    const entries = await unzip(bytes);
    assert.deepEqual(
      entries.map(({ entry, data }) => [entry.filename, entry.directory, data && decode(data)]),
      [
        ["lib/", true, null],
        ["lib/a.c", false, "int a;\n"],
        ["lib/empty/", true, null],
        ["lib/héllo.txt", false, "unicode"],
        ["lib/run.sh", false, "#!/bin/sh\n"],
        ["lib/sub/", true, null],
        ["lib/sub/b.txt", false, "bee".repeat(1000)],
        ["notes.txt", false, "notes"],
        ["renamed.bin", false, ""],
      ],
    );
    const byName = new Map(entries.map((e) => [e.entry.filename, e.entry]));
    assert.equal(byName.get("lib/run.sh")!.executable, true);
    assert.equal(byName.get("lib/a.c")!.executable, false);
    assert.equal((byName.get("lib/a.c")!.unixMode ?? 0) & 0o7777, 0o644);
  });

  it("stores symlinks as Unix symlink entries holding the target (DiskVfs)", async () => {
    const parent = await mkdtemp(join(tmpdir(), "kiln-zip-"));
    try {
      const disk = await DiskVfs.create(join(parent, "session"));
      await disk.writeFiles([{ path: "proj/a.txt", data: text("target content") }]);
      await symlink("a.txt", join(disk.hostRoot!, "proj/link"));
      await symlink("/etc/passwd", join(disk.hostRoot!, "proj/outside"));
      const entries = await unzip(await readAll(zipStream(disk, [{ path: "proj", name: "proj" }])));
      assert.deepEqual(
        entries.map(({ entry, data }) => [entry.filename, entry.symlink, data && decode(data)]),
        [
          ["proj/", false, null],
          ["proj/a.txt", false, "target content"],
          ["proj/link", true, "a.txt"],
          ["proj/outside", true, "/etc/passwd"],
        ],
      );
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });

  it("errors the stream when a path does not exist", async () => {
    await assert.rejects(
      readAll(zipStream(vfs, [{ path: "notes.txt", name: "notes.txt" }, { path: "missing", name: "missing" }])),
      (e: Error & { code?: string }) => e.code === "ENOENT",
    );
  });

  it("streams with backpressure: reads stay close to what the consumer took", async () => {
    const big = new MemoryVfs();
    const data = noise(24 * MiB);
    await big.writeFiles([{ path: "big.bin", data }]);
    const t = tracked(big);
    const reader = zipStream(t.vfs, [{ path: "big.bin", name: "big.bin" }]).getReader();
    const chunks: Uint8Array[] = [];
    let received = 0;
    let maxAhead = 0;
    for (let n = 0; ; n++) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      received += value.byteLength;
      maxAhead = Math.max(maxAhead, t.bytesRead() - received);
      if (n % 8 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    assert.ok(maxAhead < 4 * MiB, `the Vfs ran ${maxAhead} bytes ahead of the consumer`);
    const entries = await unzip(await readAll(new Blob(chunks as BlobPart[]).stream()));
    assert.equal(entries.length, 1);
    assert.deepEqual(entries[0]!.data, data);
  });

  it("releases the file reader and stops when cancelled", async () => {
    const many = new MemoryVfs();
    await many.writeFiles(Array.from({ length: 5 }, (_, i) => ({ path: `m/f${i}.bin`, data: noise(2 * MiB) })));
    const t = tracked(many);
    const reader = zipStream(t.vfs, [{ path: "m", name: "m" }]).getReader();
    let received = 0;
    while (received < 512 * 1024) {
      const { done, value } = await reader.read();
      assert.equal(done, false);
      received += value!.byteLength;
    }
    await reader.cancel();
    assert.deepEqual(t.files, [{ name: "f0.bin", closed: true }]);
    assert.equal(t.openDirs(), 0);
    assert.ok(t.bytesRead() < 4 * MiB);
  });
});
