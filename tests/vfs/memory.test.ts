import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemoryVfs } from "../../src/vfs/memory.ts";
import type { Vfs } from "../../src/vfs/vfs.ts";
import { bytes, rejectsWith, vfsConformance } from "./conformance.ts";

vfsConformance("MemoryVfs", async (options) => new MemoryVfs(options));

describe("MemoryVfs specifics", () => {
  it("is a memory backend with no host directory", () => {
    const vfs: Vfs = new MemoryVfs();
    assert.equal(vfs.kind, "memory");
    assert.equal(vfs.hostRoot, undefined);
  });

  it("has the default quota of 256 MiB and 10000 entries", async () => {
    const vfs = new MemoryVfs();
    await vfs.writeFiles([{ path: "big", data: new Uint8Array(256 * 1024 * 1024) }]);
    await rejectsWith(vfs.appendFile("big", bytes("x")), "EQUOTA");
    await vfs.rm("big");
    await vfs.writeFiles(Array.from({ length: 10_000 }, (_, i) => ({ path: `f${i}`, data: new Uint8Array(0) })));
    await rejectsWith(vfs.mkdir("one-more"), "EQUOTA");
  });

  it("keeps a stream's bytes stable while the file changes", async () => {
    const vfs = new MemoryVfs();
    await vfs.writeFiles([{ path: "f", data: new Uint8Array(200 * 1024).fill(1) }]);
    const reader = vfs.openRead("f").getReader();
    const first = await reader.read();
    await vfs.writeFiles([{ path: "f", data: new Uint8Array(10).fill(2) }]);
    let total = first.value?.byteLength ?? 0;
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      assert.ok(r.value.every((b) => b === 1));
      total += r.value.byteLength;
    }
    assert.equal(total, 200 * 1024);
  });

  it("moves a file's mtime on write and a directory's when its entries change", async () => {
    const vfs = new MemoryVfs();
    await vfs.mkdir("d");
    const before = (await vfs.stat("d"))!.mtimeMs;
    await new Promise((r) => setTimeout(r, 5));
    await vfs.writeFiles([{ path: "d/f", data: bytes("x") }]);
    const after = (await vfs.stat("d"))!.mtimeMs;
    assert.ok(after > before, "directory mtime moved");
  });
});
