// extractTar (kiln/client/node) against archives built to escape: absolute names,
// "..", symlinks out of the target, writes through symlinks (the archive's own or
// ones already on disk), device entries. Each is refused and nothing lands outside.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { lstat, mkdir, mkdtemp, readFile, readlink, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tar from "tar-stream";
import { extractTar } from "../../src/client/node.ts";

type Entry = { name: string; type?: "file" | "directory" | "symlink" | "link" | "character-device"; data?: string; linkname?: string; mode?: number };

/** A tar archive of these entries as a Web stream, as a download hands it over. */
async function archive(entries: Entry[]): Promise<ReadableStream<Uint8Array>> {
  const pack = tar.pack();
  for (const e of entries) {
    const type = e.type ?? "file";
    const header = { name: e.name, type, mode: e.mode ?? (type === "directory" ? 0o755 : 0o644), ...(e.linkname ? { linkname: e.linkname } : {}) };
    if (type === "file") pack.entry(header, e.data ?? "");
    else pack.entry(header);
  }
  pack.finalize();
  const chunks: Uint8Array[] = [];
  for await (const chunk of pack) chunks.push(chunk as Uint8Array);
  return new Blob(chunks as Uint8Array<ArrayBuffer>[]).stream();
}

let base: string;
let n = 0;
before(async () => {
  base = await mkdtemp(join(tmpdir(), "kiln-extract-"));
});
after(() => rm(base, { recursive: true, force: true }));

/** A fresh target directory inside base, with base/outside.txt as the file attacks aim at. */
async function target(): Promise<string> {
  const dir = join(base, `t${++n}`, "out");
  await mkdir(dir, { recursive: true });
  await writeFile(join(base, `t${n}`, "outside.txt"), "untouched");
  return dir;
}

async function untouched(dir: string): Promise<void> {
  assert.equal(await readFile(join(dir, "..", "outside.txt"), "utf8"), "untouched");
}

describe("extractTar", () => {
  it("writes files, directories, modes and symlinks that stay inside", async () => {
    const dir = await target();
    const result = await extractTar(
      await archive([
        { name: "app", type: "directory" },
        { name: "app/run.sh", data: "#!/bin/sh\n", mode: 0o4755 },
        { name: "./app/lib/x.txt", data: "x" },
        { name: "app/link", type: "symlink", linkname: "lib/x.txt" },
      ]),
      dir,
    );
    assert.deepEqual(result.paths, ["app", "app/run.sh", "app/lib/x.txt", "app/link"]);
    assert.equal((await stat(join(dir, "app/run.sh"))).mode & 0o7777, 0o755); // setuid dropped
    assert.equal(await readFile(join(dir, "app/lib/x.txt"), "utf8"), "x");
    assert.equal(await readlink(join(dir, "app/link")), "lib/x.txt");
  });

  it("replaces a file already there, and a symlink already there without following it", async () => {
    const dir = await target();
    await writeFile(join(dir, "a.txt"), "old");
    await symlink("../outside.txt", join(dir, "b.txt"));
    await extractTar(await archive([{ name: "a.txt", data: "new a" }, { name: "b.txt", data: "new b" }]), dir);
    assert.equal(await readFile(join(dir, "a.txt"), "utf8"), "new a");
    assert.ok((await lstat(join(dir, "b.txt"))).isFile());
    assert.equal(await readFile(join(dir, "b.txt"), "utf8"), "new b");
    await untouched(dir);
  });

  const refused: [string, Entry[], RegExp][] = [
    ["an absolute name", [{ name: "/tmp/kiln-abs.txt", data: "x" }], /absolute name/],
    ["a name with ..", [{ name: "a/../../outside.txt", data: "x" }], /"\.\."/],
    ["a symlink out of the target", [{ name: "up", type: "symlink", linkname: "../outside.txt" }], /leaves/],
    ["an absolute symlink", [{ name: "abs", type: "symlink", linkname: "/etc/passwd" }], /leaves/],
    [
      "a write through the archive's own symlink",
      [
        { name: "d", type: "symlink", linkname: "." },
        { name: "d/x.txt", data: "x" },
      ],
      /not a directory/,
    ],
    ["a hard link", [{ name: "h", type: "link", linkname: "x" }], /type link/],
    ["a device", [{ name: "dev", type: "character-device" }], /type character-device/],
  ];
  for (const [what, entries, message] of refused) {
    it(`refuses ${what}`, async () => {
      const dir = await target();
      await assert.rejects(extractTar(await archive(entries), dir), message);
      await untouched(dir);
    });
  }

  it("refuses to write through a symlinked directory already on disk", async () => {
    const dir = await target();
    await symlink("..", join(dir, "parent"));
    await assert.rejects(extractTar(await archive([{ name: "parent/outside.txt", data: "pwned" }]), dir), /not a directory/);
    await untouched(dir);
  });
});
