import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, promises as fsp } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { DiskVfs } from "../../src/vfs/disk.ts";
import { VfsError, type FileReader } from "../../src/vfs/vfs.ts";
import { bytes, readStream, readText, rejectsWith, vfsConformance } from "./conformance.ts";

// Made at load time: the conformance suite's factories run inside tests.
const base = mkdtempSync(join(tmpdir(), "kiln-disk-vfs-"));
let sessions = 0;
const newRoot = () => join(base, `session-${sessions++}`);

after(async () => {
  await fsp.rm(base, { recursive: true, force: true });
});

vfsConformance("DiskVfs", (options) => DiskVfs.create(newRoot(), options));

/** A session holding symlinks to a directory outside it (with a canary file) and to /etc. */
async function attackSetup() {
  const vfs = await DiskVfs.create(newRoot());
  const root = vfs.hostRoot;
  const outside = await fsp.mkdtemp(join(base, "outside-"));
  const canary = join(outside, "canary.txt");
  await fsp.writeFile(canary, "CANARY");
  await fsp.symlink(outside, join(root, "out"));
  await fsp.symlink(canary, join(root, "link.txt"));
  await fsp.symlink("/etc", join(root, "etc"));
  await fsp.mkdir(join(root, "real"));
  await fsp.writeFile(join(root, "real/inside.txt"), "INSIDE");

  /** The outside directory holds exactly `names` and the canary still reads CANARY. */
  const assertOutsideUntouched = async (names = ["canary.txt"]) => {
    assert.deepEqual((await fsp.readdir(outside)).sort(), names);
    assert.equal(await fsp.readFile(canary, "utf8"), "CANARY");
  };
  return { vfs, root, outside, canary, assertOutsideUntouched };
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} hung for ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describe("DiskVfs specifics", () => {
  it("creates its root with mode 0755 and reports it as hostRoot", async () => {
    const root = newRoot();
    const vfs = await DiskVfs.create(root);
    assert.equal(vfs.kind, "disk");
    assert.equal(vfs.hostRoot, root);
    const st = await fsp.stat(root);
    assert.ok(st.isDirectory());
    assert.equal(st.mode & 0o7777, 0o755);
  });

  it("sees files that session programs make on the host", async () => {
    const vfs = await DiskVfs.create(newRoot());
    await fsp.mkdir(join(vfs.hostRoot, "made"));
    await fsp.writeFile(join(vfs.hostRoot, "made/by-program.txt"), "hi");
    assert.equal(await readText(vfs, "made/by-program.txt"), "hi");
    assert.deepEqual(await vfs.usage(), { bytes: 2, files: 2 });
  });

  it("stages inside the session root and leaves no staging directory behind", async () => {
    const vfs = await DiskVfs.create(newRoot(), { quota: { maxBytes: 100, maxFiles: 100 } });
    const parent = (await fsp.readdir(join(vfs.hostRoot, ".."))).sort();
    await vfs.writeFiles([
      { path: "a", data: bytes("a") },
      { path: "b/c", data: bytes("c") },
    ]);
    await rejectsWith(vfs.writeFiles([{ path: "big", data: new Uint8Array(200) }]), "EQUOTA");
    assert.deepEqual((await fsp.readdir(vfs.hostRoot)).sort(), ["a", "b"]);
    assert.deepEqual((await fsp.readdir(join(vfs.hostRoot, ".."))).sort(), parent, "nothing made beside the root");
    await vfs.destroy();
    await assert.rejects(fsp.stat(vfs.hostRoot), { code: "ENOENT" });
  });

  it("gives created files and directories to the owner", { skip: process.getuid?.() !== 0 && "needs root" }, async () => {
    const owner = { uid: 1000, gid: 1000 };
    const vfs = await DiskVfs.create(newRoot(), { owner });
    await vfs.writeFiles([{ path: "a/b/c.txt", data: bytes("x") }]);
    await vfs.mkdir("m");
    await vfs.mkdir("p/q", { parents: true });
    await vfs.appendFile("n/o.txt", bytes("x"));
    for (const path of ["", "a", "a/b", "a/b/c.txt", "m", "p", "p/q", "n", "n/o.txt"]) {
      const st = await fsp.stat(join(vfs.hostRoot, path));
      assert.equal(st.uid, owner.uid, `uid of ${path || "/"}`);
      assert.equal(st.gid, owner.gid, `gid of ${path || "/"}`);
    }
    assert.equal((await fsp.stat(join(vfs.hostRoot, "a/b/c.txt"))).mode & 0o7777, 0o644);
    assert.equal((await fsp.stat(join(vfs.hostRoot, "p/q"))).mode & 0o7777, 0o755);
  });
});

describe("DiskVfs against symlinks", () => {
  it("refuses to read through a symlink, intermediate or final", async () => {
    const { vfs, assertOutsideUntouched } = await attackSetup();
    for (const path of ["out/canary.txt", "link.txt", "etc/passwd", "etc/hostname"]) {
      await rejectsWith(vfs.readFile(path), "ESYMLINK");
      await rejectsWith(readStream(vfs.openRead(path)), "ESYMLINK");
    }
    await rejectsWith(vfs.readFile("out"), "ESYMLINK");
    await assertOutsideUntouched();
  });

  it("lists and stats symlinks as symlinks without following them", async () => {
    const { vfs, outside, canary } = await attackSetup();
    await rejectsWith(vfs.list("out"), "ESYMLINK");
    await rejectsWith(vfs.list("etc"), "ESYMLINK");
    const entries = await vfs.list("");
    assert.deepEqual(
      entries.map((e) => [e.name, e.kind]),
      [
        ["etc", "symlink"],
        ["link.txt", "symlink"],
        ["out", "symlink"],
        ["real", "dir"],
      ],
    );
    assert.equal(entries.find((e) => e.name === "out")?.size, Buffer.byteLength(outside));
    assert.equal((await vfs.stat("link.txt"))?.kind, "symlink");
    assert.equal((await vfs.stat("link.txt"))?.size, Buffer.byteLength(canary));
    await rejectsWith(vfs.stat("out/canary.txt"), "ESYMLINK");
    await rejectsWith(vfs.stat("etc/passwd"), "ESYMLINK");
    assert.equal(await vfs.readlink("out"), outside);
    assert.equal(await vfs.readlink("etc"), "/etc");
    await rejectsWith(vfs.readlink("out/canary.txt"), "ESYMLINK");
  });

  it("refuses to write through a symlink, changing nothing anywhere", async () => {
    const { vfs, root, assertOutsideUntouched } = await attackSetup();
    for (const path of ["out/evil", "out/sub/deep", "link.txt", "etc/kiln-evil", "out"]) {
      await rejectsWith(vfs.writeFiles([{ path, data: bytes("EVIL") }]), "ESYMLINK");
    }
    await rejectsWith(
      vfs.writeFiles([
        { path: "ok.txt", data: bytes("ok") },
        { path: "out/x", data: bytes("EVIL") },
      ]),
      "ESYMLINK",
    );
    assert.equal(await vfs.stat("ok.txt"), null);
    await assert.rejects(fsp.access("/etc/kiln-evil"));
    await assertOutsideUntouched();
    assert.deepEqual((await fsp.readdir(root)).filter((n) => n.startsWith(".kiln-staging-")), []);
  });

  it("refuses to append through a symlink", async () => {
    const { vfs, assertOutsideUntouched } = await attackSetup();
    await rejectsWith(vfs.appendFile("link.txt", bytes("EVIL")), "ESYMLINK");
    await rejectsWith(vfs.appendFile("out/new.txt", bytes("EVIL")), "ESYMLINK");
    await rejectsWith(vfs.appendFile("out/canary.txt", bytes("EVIL")), "ESYMLINK");
    await assertOutsideUntouched();
  });

  it("refuses to make directories through a symlink", async () => {
    const { vfs, assertOutsideUntouched } = await attackSetup();
    await rejectsWith(vfs.mkdir("out/d"), "ESYMLINK");
    await rejectsWith(vfs.mkdir("out/d/e", { parents: true }), "ESYMLINK");
    await rejectsWith(vfs.mkdir("out", { parents: true }), "ESYMLINK");
    await rejectsWith(vfs.mkdir("out"), "EEXIST");
    await assertOutsideUntouched();
  });

  it("removes symlinks themselves, never their targets", async () => {
    const { vfs, root, outside, assertOutsideUntouched } = await attackSetup();
    await rejectsWith(vfs.rm("out/canary.txt"), "ESYMLINK");
    await rejectsWith(vfs.rm("out/canary.txt", { force: true }), "ESYMLINK");
    await vfs.rm("link.txt");
    await vfs.rm("out", { recursive: true });
    await fsp.symlink(outside, join(root, "real/nested-link"));
    await fsp.symlink("/etc", join(root, "real/etc-link"));
    await vfs.rm("real", { recursive: true });
    assert.deepEqual((await vfs.list("")).map((e) => e.name), ["etc"]);
    await assertOutsideUntouched();
    await fsp.access("/etc/passwd");
  });

  it("refuses to move through a symlink but moves a symlink itself", async () => {
    const { vfs, canary, assertOutsideUntouched } = await attackSetup();
    await rejectsWith(vfs.rename("out/canary.txt", "stolen.txt"), "ESYMLINK");
    await rejectsWith(vfs.rename("real/inside.txt", "out/planted.txt"), "ESYMLINK");
    await rejectsWith(vfs.rename("real", "out/real"), "ESYMLINK");
    await vfs.rename("link.txt", "real/moved-link");
    assert.equal(await vfs.readlink("real/moved-link"), canary);
    assert.equal((await vfs.stat("real/moved-link"))?.kind, "symlink");
    await assertOutsideUntouched();
  });

  it("opens nothing through a symlink from a directory handle", async () => {
    const { vfs, outside, canary, assertOutsideUntouched } = await attackSetup();
    await rejectsWith(vfs.openDir("out"), "ESYMLINK");
    await rejectsWith(vfs.openDir("out/sub"), "ESYMLINK");
    const root = await vfs.openDir("");
    for (const name of ["out", "etc", "link.txt"]) {
      await rejectsWith(root.openDir(name), "ESYMLINK");
      await rejectsWith(root.openFile(name), "ESYMLINK");
    }
    assert.equal(await root.readlink("out"), outside);
    assert.equal(await root.readlink("link.txt"), canary);
    assert.equal((await root.stat("out"))?.kind, "symlink");
    await root.close();
    await assertOutsideUntouched();
  });

  it("counts symlinks as entries in usage without following them", async () => {
    const { vfs } = await attackSetup();
    assert.deepEqual(await vfs.usage(), { bytes: 6, files: 5 });
  });

  it("destroys the session without following symlinks", async () => {
    const { vfs, root, assertOutsideUntouched } = await attackSetup();
    await vfs.destroy();
    await assert.rejects(fsp.lstat(root), { code: "ENOENT" });
    await assertOutsideUntouched();
    await fsp.access("/etc/passwd");
  });

  it("does not hang on a FIFO", async () => {
    const { vfs, root } = await attackSetup();
    execFileSync("mkfifo", [join(root, "fifo")]);
    await withTimeout(rejectsWith(vfs.readFile("fifo"), "EINVAL"), 2000, "readFile");
    await withTimeout(rejectsWith(readStream(vfs.openRead("fifo")), "EINVAL"), 2000, "openRead");
    await withTimeout(rejectsWith(vfs.appendFile("fifo", bytes("x")), "EINVAL"), 2000, "appendFile");
    const dir = await vfs.openDir("");
    assert.equal(await withTimeout(dir.openFile("fifo"), 2000, "openFile"), null);
    await dir.close();
    assert.equal((await vfs.stat("fifo"))?.kind, "file");
    await vfs.rm("fifo");
    assert.equal(await vfs.stat("fifo"), null);
  });
});

// Run by a separate process (node or bun, whichever runs the tests) so the swaps race
// the Vfs's syscalls for real. It swaps real/ for a symlink to the outside directory,
// and top-secret.txt and w.txt for symlinks to outside files, until STOP exists.
const SWAPPER = `
const fs = require("node:fs");
const { ROOT: root, OUTSIDE: outside, STOP: stop } = process.env;
const real = root + "/real", parked = root + "/real.parked", tmp = root + "/swap.tmp";
const secret = root + "/top-secret.txt", w = root + "/w.txt";
const quiet = (f) => { try { f(); } catch {} };
const deadline = Date.now() + 15000;
let swaps = 0;
while (!fs.existsSync(stop) && Date.now() < deadline) {
  quiet(() => fs.renameSync(real, parked));
  quiet(() => fs.symlinkSync(outside, real));
  quiet(() => fs.symlinkSync(outside + "/secret.txt", tmp));
  quiet(() => fs.renameSync(tmp, secret));
  quiet(() => fs.symlinkSync(outside + "/w.txt", w));
  // and back; the Vfs may have made real/ meanwhile (it was missing for a moment)
  quiet(() => fs.unlinkSync(real));
  quiet(() => { if (fs.lstatSync(real).isDirectory()) fs.rmSync(real, { recursive: true }); });
  quiet(() => fs.renameSync(parked, real));
  quiet(() => fs.writeFileSync(tmp, "INSIDE"));
  quiet(() => fs.renameSync(tmp, secret));
  quiet(() => fs.unlinkSync(w));
  swaps++;
}
process.stdout.write(String(swaps));
`;

/** What an archive walk does: real/ opened from the root's handle, its files from real/'s. */
async function readThroughHandles(vfs: DiskVfs): Promise<{ reads: string[]; listed: string[] }> {
  const reads: string[] = [];
  const root = await vfs.openDir("");
  try {
    const top = await root.openFile("top-secret.txt");
    if (top) reads.push(await readAll(top));
    const real = await root.openDir("real");
    try {
      const listed = (await real.list()).map((e) => e.name);
      const secret = await real.openFile("secret.txt");
      if (secret) reads.push(await readAll(secret));
      return { reads, listed };
    } finally {
      await real.close();
    }
  } finally {
    await root.close();
  }
}

async function readAll(file: FileReader): Promise<string> {
  try {
    const into = new Uint8Array(file.stat.size);
    let n = 0;
    while (n < into.byteLength) {
      const got = await file.read(into.subarray(n));
      if (got === 0) break;
      n += got;
    }
    return new TextDecoder().decode(into.subarray(0, n));
  } finally {
    await file.close();
  }
}

describe("DiskVfs against swap races", () => {
  it("never reads or writes outside while directories are swapped for symlinks", async () => {
    const { vfs, root, outside, assertOutsideUntouched } = await attackSetup();
    await fsp.writeFile(join(outside, "secret.txt"), "OUTSIDE");
    await fsp.writeFile(join(root, "real/secret.txt"), "INSIDE");
    await fsp.writeFile(join(root, "top-secret.txt"), "INSIDE");
    const stop = join(base, `stop-${sessions}`);

    const swapper = spawn(process.execPath, ["-e", SWAPPER], {
      env: { ...process.env, ROOT: root, OUTSIDE: outside, STOP: stop },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let swaps = "";
    swapper.stdout.on("data", (chunk: Buffer) => (swaps += chunk.toString()));
    const exited = new Promise<void>((resolve) => swapper.on("exit", () => resolve()));

    const reads: string[] = [];
    const listed = new Set<string>();
    const unexpected: unknown[] = [];
    const data = bytes("WRITTEN");
    try {
      for (let i = 0; i < 300; i++) {
        const results = await Promise.allSettled([
          vfs.readFile("real/secret.txt").then((b) => reads.push(new TextDecoder().decode(b))),
          vfs.readFile("top-secret.txt").then((b) => reads.push(new TextDecoder().decode(b))),
          readStream(vfs.openRead("real/secret.txt")).then((r) => reads.push(new TextDecoder().decode(r.data))),
          vfs.list("real").then((entries) => entries.forEach((e) => listed.add(e.name))),
          readThroughHandles(vfs).then((r) => {
            reads.push(...r.reads);
            r.listed.forEach((name) => listed.add(name));
          }),
          vfs.writeFiles([
            { path: `real/w${i}.txt`, data },
            { path: "w.txt", data },
          ]),
          vfs.appendFile("real/appended.txt", data),
          vfs.appendFile("w.txt", data),
          vfs.mkdir("real/sub/dir", { parents: true }),
          vfs.stat("real/secret.txt"),
          vfs.rm(`real/w${i - 1}.txt`, { force: true }),
          vfs.usage(),
        ]);
        for (const r of results) {
          if (r.status === "rejected" && !(r.reason instanceof VfsError)) unexpected.push(r.reason);
        }
      }
    } finally {
      await fsp.writeFile(stop, "");
      await exited;
    }

    assert.ok(Number(swaps) >= 50, `the swapper only managed ${swaps} swaps`);
    assert.deepEqual(unexpected, []);
    assert.ok(reads.length > 0, "some reads succeeded");
    for (const text of reads) assert.equal(text, "INSIDE");
    assert.ok(!listed.has("canary.txt"), "never listed the outside directory");
    await assertOutsideUntouched(["canary.txt", "secret.txt"]);
    assert.equal(await fsp.readFile(join(outside, "secret.txt"), "utf8"), "OUTSIDE");
  });
});
