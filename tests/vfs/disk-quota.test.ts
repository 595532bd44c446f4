// DiskVfs with `filesystem: "loop"`: the session directory is an ext4 filesystem of its
// own, so programs writing into it directly (not through the Vfs) stop at the quota.
// Mounting needs root; elsewhere these tests skip. The staging attack runs on both
// filesystems.

import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, promises as fsp, watch } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { DiskVfs, type DiskVfsOptions } from "../../src/vfs/disk.ts";
import { VfsError, type Quota } from "../../src/vfs/vfs.ts";
import { bytes, readText, rejectsWith } from "./conformance.ts";

const ROOT = process.getuid?.() === 0;
const NEEDS_ROOT = !ROOT && "needs root (mkfs.ext4 and mount)";
const MiB = 1024 * 1024;
const OWNER = { uid: 1000, gid: 1000 };

const base = mkdtempSync(join(tmpdir(), "kiln-disk-quota-"));
// The session's user (the "program" below) must get through to the session directories.
chmodSync(base, 0o711);
let sessions = 0;
const newRoot = () => join(base, `session${sessions++}`);
const loop = (quota: Quota, extra: DiskVfsOptions = {}) =>
  DiskVfs.create(newRoot(), { quota, owner: OWNER, filesystem: "loop", imageTag: "test-1-1", ...extra });

after(async () => {
  // Whatever a failed test left mounted goes first: never a recursive delete across a mount.
  for (const point of mountsUnder(base)) await run("umount", ["--lazy", point]).catch(() => undefined);
  await fsp.rm(base, { recursive: true, force: true });
});

/** The mount on exactly `path`: its filesystem type and per-mount options; null when none. */
function mountAt(path: string): { type: string; options: string[] } | null {
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const fields = line.split(" ");
    if (fields[4] !== path) continue;
    const rest = line.slice(line.indexOf(" - ") + 3).split(" ");
    return { type: rest[0]!, options: fields[5]!.split(",") };
  }
  return null;
}

function mountsUnder(dir: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[4] ?? "")
    .filter((point) => point.startsWith(dir + "/"))
    .reverse();
}

/** Loop devices whose backing file is `image` (the kernel appends " (deleted)" once it is unlinked). */
function loopDevicesOf(image: string): string[] {
  return readdirSync("/sys/block")
    .filter((dev) => dev.startsWith("loop"))
    .filter((dev) => {
      try {
        return readFileSync(`/sys/block/${dev}/loop/backing_file`, "utf8").trim().replace(/ \(deleted\)$/, "") === image;
      } catch {
        return false; // not attached
      }
    });
}

function run(program: string, args: string[], options: { uid?: number; gid?: number } = {}): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(program, args, options, (error, _stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stderr: String(stderr) });
    });
  });
}

async function waitFor(check: () => boolean, what: string, ms = 3000): Promise<void> {
  for (const deadline = Date.now() + ms; !check(); ) {
    if (Date.now() > deadline) assert.fail(`${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Bytes the session's programs may still write. */
async function available(root: string): Promise<number> {
  const st = await fsp.statfs(root);
  return st.bavail * st.bsize;
}

describe("DiskVfs on a loop filesystem", { skip: NEEDS_ROOT }, () => {
  it("mounts an ext4 of its own on the root, nosuid and nodev, sized to the quota", async () => {
    for (const quota of [
      { maxBytes: 100, maxFiles: 10 },
      { maxBytes: 32 * MiB, maxFiles: 1000 },
      { maxBytes: 256 * MiB, maxFiles: 10_000 },
    ]) {
      const vfs = await loop(quota);
      const root = vfs.hostRoot;
      assert.equal(vfs.image, `${root}.test-1-1.img`);
      const mount = mountAt(root);
      assert.equal(mount?.type, "ext4");
      assert.ok(mount.options.includes("nosuid") && mount.options.includes("nodev"), mount.options.join(","));
      assert.deepEqual(await fsp.readdir(root), [], "no lost+found");
      const st = await fsp.stat(root);
      assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [OWNER.uid, OWNER.gid, 0o755]);

      // Whatever the quota lets in fits: the bytes, a partly used block per entry, the entries.
      const fits = quota.maxBytes + quota.maxFiles * 4096;
      const fs = await fsp.statfs(root);
      assert.ok(fs.bavail * fs.bsize >= fits, `${fs.bavail * fs.bsize} bytes free for a quota needing ${fits}`);
      assert.ok(fs.ffree >= quota.maxFiles, `${fs.ffree} inodes free for ${quota.maxFiles} entries`);
      // ...and not much more: the image bounds what the session can take of the host's disk.
      const image = await fsp.stat(vfs.image!);
      assert.equal(image.mode & 0o777, 0o600);
      assert.ok(image.size <= fits * 1.03 + 8 * MiB, `a ${image.size}-byte image for a quota needing ${fits}`);
      assert.ok(image.blocks * 512 < 2 * MiB, `the fresh image is sparse: ${image.blocks * 512} bytes on disk`);
      await vfs.destroy();
    }
  });

  it("a program writing past the quota into the directory gets ENOSPC, bytes or entries", async () => {
    const quota = { maxBytes: 32 * MiB, maxFiles: 200 };
    const vfs = await loop(quota);
    const big = join(vfs.hostRoot, "big");
    const dd = await run("dd", ["if=/dev/zero", `of=${big}`, "bs=1M", "count=1000"], OWNER);
    assert.notEqual(dd.code, 0);
    assert.match(dd.stderr, /No space left on device/);
    const size = (await fsp.stat(big)).size;
    assert.ok(size >= quota.maxBytes && size < quota.maxBytes + 16 * MiB, `dd wrote ${size} bytes`);

    await fsp.rm(big);
    const touch = await run("sh", ["-c", `cd ${vfs.hostRoot} && i=0; while : > f$i; do i=$((i + 1)); [ $i -lt 100000 ] || break; done`], OWNER);
    assert.match(touch.stderr, /No space left on device/);
    const files = (await fsp.readdir(vfs.hostRoot)).length;
    assert.ok(files >= quota.maxFiles && files < quota.maxFiles + 100, `${files} files made`);

    // The Vfs refuses what the quota would not let in, as it always did.
    await rejectsWith(vfs.writeFiles([{ path: "more.txt", data: bytes("x") }]), "EQUOTA");
    await rejectsWith(vfs.appendFile("f0", bytes("x")), "EQUOTA");
    await vfs.destroy();
  });

  it("an upload into a full filesystem is EQUOTA and leaves nothing staged", async () => {
    // A deleted file still open fills the filesystem without counting in usage(): the
    // quota check passes and the writes themselves run out of space.
    const vfs = await loop({ maxBytes: 32 * MiB, maxFiles: 100 });
    const hog = await fsp.open(join(vfs.hostRoot, "hog"), "w");
    await fsp.unlink(join(vfs.hostRoot, "hog"));
    try {
      await hog.write(new Uint8Array((await available(vfs.hostRoot)) - MiB));
      const freeBefore = await available(vfs.hostRoot);
      const upload = [
        { path: "small.txt", data: bytes("small") },
        { path: "dir/big.bin", data: new Uint8Array(2 * MiB) },
      ];
      await rejectsWith(vfs.writeFiles(upload), "EQUOTA");
      assert.deepEqual(await fsp.readdir(vfs.hostRoot), [], "nothing of the batch, no staging directory");
      assert.ok((await available(vfs.hostRoot)) >= freeBefore, "the staged bytes were freed");

      const chunk = new Uint8Array(64 * 1024);
      await assert.rejects(
        (async () => {
          for (;;) await hog.write(chunk);
        })(),
        { code: "ENOSPC" },
      );
      await rejectsWith(vfs.writeFiles([{ path: "one.txt", data: bytes("1") }]), "EQUOTA");
      await rejectsWith(vfs.appendFile("one.txt", new Uint8Array(8192)), "EQUOTA");
      assert.deepEqual((await fsp.readdir(vfs.hostRoot)).filter((n) => n !== "one.txt"), []);

      await hog.close();
      await vfs.rm("one.txt", { force: true });
      await vfs.writeFiles(upload);
      assert.equal(await readText(vfs, "small.txt"), "small");
      assert.deepEqual((await fsp.readdir(vfs.hostRoot)).sort(), ["dir", "small.txt"]);
    } finally {
      await hog.close().catch(() => undefined);
      await vfs.destroy();
    }
  });

  it("uploads stage inside the root, on the session's own filesystem", async () => {
    const vfs = await loop({ maxBytes: 8 * MiB, maxFiles: 100 });
    const seen = new Set<string>();
    const watcher = watch(vfs.hostRoot, (_event, name) => name && seen.add(String(name)));
    try {
      await vfs.writeFiles([
        { path: "a.txt", data: bytes("A") },
        { path: "src/deep/b.txt", data: bytes("B"), mode: 0o600 },
      ]);
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      watcher.close();
    }
    assert.ok([...seen].some((n) => /^\.kiln-staging-[0-9a-f]{24}$/.test(n)), `events for ${[...seen].join(", ")}`);
    assert.deepEqual((await fsp.readdir(vfs.hostRoot)).sort(), ["a.txt", "src"]);
    assert.equal(await readText(vfs, "src/deep/b.txt"), "B");
    const st = await fsp.stat(join(vfs.hostRoot, "src/deep/b.txt"));
    assert.deepEqual([st.uid, st.mode & 0o777], [OWNER.uid, 0o600]);
    assert.deepEqual(await vfs.usage(), { bytes: 2, files: 4 });
    await vfs.destroy();
  });

  it("destroy leaves no mount, no image, no directory and, once released, no loop device", async () => {
    const vfs = await loop({ maxBytes: 8 * MiB, maxFiles: 100 });
    const { hostRoot: root, image } = vfs;
    await vfs.writeFiles([{ path: "d/f.txt", data: bytes("x") }]);
    assert.equal(loopDevicesOf(image!).length, 1);
    // A file held open keeps the filesystem busy: the unmount is lazy then.
    const held = await fsp.open(join(root, "d/f.txt"), "r");
    try {
      await vfs.destroy();
      assert.equal(mountAt(root), null);
      assert.ok(!existsSync(root), "the root is gone");
      assert.ok(!existsSync(image!), "the image is gone");
    } finally {
      await held.close();
    }
    await waitFor(() => loopDevicesOf(image!).length === 0, "the loop device is released");

    const idle = await loop({ maxBytes: 8 * MiB, maxFiles: 100 });
    await idle.destroy();
    assert.equal(mountAt(idle.hostRoot), null);
    assert.ok(!existsSync(idle.hostRoot) && !existsSync(idle.image!));
    assert.deepEqual(loopDevicesOf(idle.image!), []);
  });

  it("create fails with nothing left behind when the filesystem can't be made", async () => {
    // An image of that name already there is not reused, nor removed.
    const root = newRoot();
    await fsp.writeFile(`${root}.test-1-1.img`, "not ours");
    await assert.rejects(DiskVfs.create(root, { filesystem: "loop", imageTag: "test-1-1" }), { code: "EEXIST" });
    assert.ok(!existsSync(root));
    assert.equal(await fsp.readFile(`${root}.test-1-1.img`, "utf8"), "not ours");

    // 2^32 entries: more inodes than ext4 has (or a bigger image than the host allows).
    const before = readdirSync(base).sort();
    await assert.rejects(loop({ maxBytes: MiB, maxFiles: 2 ** 32 }));
    assert.deepEqual(readdirSync(base).sort(), before);
    assert.deepEqual(mountsUnder(base), []);
  });

  it("sweepImages removes the filesystems of dead owners, mounted or not, and nothing else", async () => {
    const quota = { maxBytes: MiB, maxFiles: 10 };
    const dead = await loop(quota, { imageTag: "dead-1-1" });
    const alive = await loop(quota, { imageTag: "alive-1-1" });
    const plain = await DiskVfs.create(newRoot());
    await dead.writeFiles([{ path: "f", data: bytes("x") }]);
    await alive.writeFiles([{ path: "f", data: bytes("x") }]);
    // A crash between making the image and mounting it.
    const unmounted = newRoot();
    await fsp.mkdir(unmounted);
    await fsp.writeFile(`${unmounted}.dead-2-2.img`, "");

    const removed = await DiskVfs.sweepImages(base, (tag) => tag.startsWith("dead-"));
    assert.deepEqual(removed.sort(), [dead.image, `${unmounted}.dead-2-2.img`].sort());
    for (const gone of [dead.hostRoot, dead.image!, unmounted, `${unmounted}.dead-2-2.img`]) assert.ok(!existsSync(gone), gone);
    assert.equal(mountAt(dead.hostRoot), null);
    assert.equal(await readText(alive, "f"), "x");
    assert.equal(mountAt(alive.hostRoot)?.type, "ext4");
    assert.ok(existsSync(plain.hostRoot));
    assert.deepEqual(await DiskVfs.sweepImages(join(base, "missing"), () => true), []);
    await alive.destroy();
    await plain.destroy();
  });
});

// Run by a separate process (node or bun, whichever runs the tests) so the swaps race
// writeFiles for real: every staging directory it sees in the root is renamed away and
// replaced by a symlink to the outside directory, until STOP exists.
const STAGING_SWAPPER = `
const fs = require("node:fs");
const { ROOT: root, OUTSIDE: outside, STOP: stop } = process.env;
const deadline = Date.now() + 20000;
const swapped = new Set();
let swaps = 0;
process.stdout.write("ready\\n");
while (!fs.existsSync(stop) && Date.now() < deadline) {
  let names = [];
  try { names = fs.readdirSync(root); } catch {}
  for (const name of names) {
    if (!name.startsWith(".kiln-staging-") || swapped.has(name)) continue;
    swapped.add(name);
    try {
      fs.renameSync(root + "/" + name, root + "/parked-" + swaps);
      fs.symlinkSync(outside, root + "/" + name);
      swaps++;
    } catch {}
  }
}
process.stdout.write(String(swaps));
`;

describe("DiskVfs staging against swaps", () => {
  for (const filesystem of ["directory", "loop"] as const) {
    it(`a staging directory swapped for a symlink mid-write stays harmless (${filesystem})`, { skip: filesystem === "loop" && NEEDS_ROOT }, async () => {
      const vfs = await DiskVfs.create(newRoot(), { filesystem, imageTag: "test-1-1", quota: { maxBytes: 64 * MiB, maxFiles: 10_000 } });
      const outside = await fsp.mkdtemp(join(base, "outside-"));
      await fsp.writeFile(join(outside, "canary.txt"), "CANARY");
      const stop = join(base, `stop-${sessions++}`);
      const swapper = spawn(process.execPath, ["-e", STAGING_SWAPPER], {
        env: { ...process.env, ROOT: vfs.hostRoot, OUTSIDE: outside, STOP: stop },
        stdio: ["ignore", "pipe", "inherit"],
      });
      let out = "";
      swapper.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
      const exited = new Promise<void>((resolve) => swapper.on("exit", () => resolve()));
      await waitFor(() => out.startsWith("ready\n"), "the swapper starts", 10_000);

      const unexpected: unknown[] = [];
      let written = 0;
      const data = new Uint8Array(64 * 1024).fill(7);
      try {
        for (let i = 0; i < 150; i++) {
          try {
            await vfs.writeFiles([
              { path: `w${i % 5}/a.bin`, data },
              { path: `w${i % 5}/b.bin`, data },
              { path: `top${i % 10}.bin`, data },
            ]);
            written++;
            assert.deepEqual(await vfs.readFile(`w${i % 5}/b.bin`), data);
          } catch (error) {
            if (!(error instanceof VfsError)) unexpected.push(error);
          }
        }
      } finally {
        await fsp.writeFile(stop, "");
        await exited;
      }
      const swaps = Number(out.slice("ready\n".length));
      assert.deepEqual(unexpected, []);
      assert.ok(swaps > 0, "the swapper caught no staging directory");
      assert.ok(written > 0, "some uploads got through");
      assert.deepEqual(readdirSync(outside), ["canary.txt"], "nothing landed outside");
      assert.equal(readFileSync(join(outside, "canary.txt"), "utf8"), "CANARY");
      // The renamed staging directories hold nothing: what was staged went in or was discarded.
      for (const name of readdirSync(vfs.hostRoot).filter((n) => n.startsWith("parked-"))) {
        assert.deepEqual(readdirSync(join(vfs.hostRoot, name)), [], name);
      }
      await vfs.destroy();
      assert.deepEqual(readdirSync(outside), ["canary.txt"]);
    });
  }
});
