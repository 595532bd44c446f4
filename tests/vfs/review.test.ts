// Review findings on the disk-backed VFS: each test fails on the code as reviewed
// and passes with the fixes proposed alongside it (see the review report).

import assert from "node:assert/strict";
import { existsSync, mkdtempSync, promises as fsp } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { DiskVfs } from "../../src/vfs/disk.ts";

const base = mkdtempSync(join(tmpdir(), "kiln-review-vfs-"));
let sessions = 0;
const newRoot = () => join(base, `session-${sessions++}`);

after(async () => {
  await fsp.rm(base, { recursive: true, force: true });
});

/** A name a session program can create (Linux names are bytes) that is not UTF-8. */
function rawName(dir: string): Buffer {
  return Buffer.concat([Buffer.from(`${dir}/`), Buffer.from([0xff, 0x41]), Buffer.from(".bin")]);
}

describe("review: DiskVfs and names that are not UTF-8", () => {
  it("destroy removes the session directory even when a program made such a name in it", async () => {
    const vfs = await DiskVfs.create(newRoot());
    await fsp.mkdir(join(vfs.hostRoot, "d"));
    await fsp.writeFile(rawName(join(vfs.hostRoot, "d")), "left behind");
    await fsp.writeFile(rawName(vfs.hostRoot), "left behind");
    await vfs.destroy();
    assert.equal(existsSync(vfs.hostRoot), false, "the session directory outlived DELETE");
  });

  it("usage (and so the quota) counts such files and their bytes", async () => {
    const vfs = await DiskVfs.create(newRoot());
    await fsp.writeFile(rawName(vfs.hostRoot), "x".repeat(1000));
    assert.deepEqual(await vfs.usage(), { bytes: 1000, files: 1 });
    await vfs.destroy();
  });
});
