// Archive downloads through the API that lean on the directory-handle walk: a tree 300
// levels deep as tar and as zip on both VFS kinds, every entry checked; and a download
// cancelled mid-stream over real HTTP leaves no fd open in the session directory.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readlink, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BACKENDS, Client, makeEnv, parseMixed, textOf, untar, unzip, type TestEnv } from "../helpers/client.ts";
import { serveApp, type TestServer } from "../helpers/serve.ts";

const DEPTH = 300;
const MiB = 1024 * 1024;

/** Level i is the directory "d/d/…" (i + 1 names deep) holding a file "f" and level i + 1. */
function deepTree(): { files: Record<string, string>; entries: string[] } {
  const files: Record<string, string> = {};
  const dirs: string[] = [];
  let dir = "";
  for (let i = 0; i < DEPTH; i++) {
    dir += i === 0 ? "d" : "/d";
    dirs.push(dir);
    files[`${dir}/f`] = `level ${i}`;
  }
  // Pre-order with names sorted: every directory on the way down ("d" < "f"), then each
  // level's file as the walk climbs back up.
  const entries = [...dirs.map((d) => `${d}/`), ...dirs.reverse().map((d) => `${d}/f`)];
  return { files, entries };
}

async function upload(client: Client, id: string, files: Record<string, string | Uint8Array>): Promise<void> {
  const all = Object.entries(files);
  for (let i = 0; i < all.length; i += 20) await client.put(id, Object.fromEntries(all.slice(i, i + 20)));
}

for (const backend of BACKENDS) {
  describe(`a tree ${DEPTH} levels deep (${backend})`, () => {
    let env: TestEnv;
    let id: string;
    const tree = deepTree();

    before(async () => {
      env = await makeEnv({ vfs: backend });
      id = await env.client.newSession();
      await upload(env.client, id, tree.files);
    });
    after(() => env.close());

    it("downloads as tar with every entry in order", async () => {
      const res = await env.client.get(`/session/${id}/download`, { query: { files: ["d"] } });
      assert.equal(res.status, 200, res.text.slice(0, 300));
      const entries = await untar(parseMixed(res)[0]!.body);
      assert.deepEqual(
        entries.map((e) => e.name),
        tree.entries,
      );
      for (const entry of entries) {
        if (entry.name.endsWith("/")) {
          assert.equal(entry.type, "directory", entry.name);
        } else {
          assert.equal(entry.type, "file", entry.name);
          assert.equal(textOf(entry.data), tree.files[entry.name], entry.name);
        }
      }
    });

    it("downloads as zip with every entry", async () => {
      const res = await env.client.get(`/session/${id}/download`, { query: { files: ["d"], format: "zip" } });
      assert.equal(res.status, 200, res.text.slice(0, 300));
      const entries = await unzip(res.bytes);
      assert.deepEqual([...entries.keys()].sort(), tree.entries.map((e) => e.replace(/\/$/, "")).sort());
      for (const [name, entry] of entries) {
        if (name in tree.files) assert.equal(textOf(entry.data), tree.files[name], name);
        else assert.equal(entry.directory, true, name);
      }
    });
  });
}

/** Descriptors of this process open on something under `dir`. */
async function fdsUnder(dir: string): Promise<number> {
  let count = 0;
  for (const fd of await readdir("/proc/self/fd")) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => "");
    if (target.startsWith(dir + "/")) count++;
  }
  return count;
}

describe("a download cancelled mid-stream (disk, over HTTP)", () => {
  let dataDir: string;
  let env: TestEnv;
  let server: TestServer;
  let client: Client;
  let id: string;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "kiln-walk-fds-"));
    env = await makeEnv({ vfs: "disk", config: { dataDir } });
    server = await serveApp(env.app);
    client = Client.forUrl(server.url);
    id = await client.newSession();
    // 40 MiB, 12 levels down: far more than the socket buffers hold, so the walk is
    // mid-way, holding a directory per level and a file, when the client goes away.
    const deep = Array.from({ length: 12 }, () => "deep").join("/");
    const files: Record<string, Uint8Array> = {};
    // Incompressible, so the zip is as large as the tree.
    for (let i = 0; i < 40; i++) files[`${deep}/f${String(i).padStart(2, "0")}.bin`] = randomBytes(MiB);
    await upload(client, id, files);
  });
  after(async () => {
    await server?.close();
    await env?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  // Node closes a FileHandle that is garbage collected, with a warning: that is a leak too.
  let closedByGc = 0;
  const onWarning = (warning: Error) => {
    if (/Closing file descriptor/.test(warning.message)) closedByGc++;
  };
  before(() => process.on("warning", onWarning));
  after(() => process.off("warning", onWarning));

  for (const format of ["tar", "zip"]) {
    it(`closes every fd it opened (${format})`, async () => {
      assert.equal(await fdsUnder(dataDir), 0);
      const res = await client.raw("GET", `/session/${id}/download`, { query: { files: ["deep"], format } });
      assert.equal(res.status, 200);
      const reader = res.body!.getReader();
      let received = 0;
      while (received < 4 * MiB) {
        const { done, value } = await reader.read();
        assert.equal(done, false, "the download ended before it was cancelled");
        received += value.byteLength;
      }
      const during = await fdsUnder(dataDir);
      assert.ok(during >= 12, `the walk holds a directory per level and a file, saw ${during} fds`);
      await reader.cancel();
      // The server learns of the closed connection asynchronously: wait for it, within reason.
      const deadline = Date.now() + 10_000;
      let left = during;
      while ((left = await fdsUnder(dataDir)) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(left, 0, `${left} fds still open in the session after the cancel`);
      assert.equal(closedByGc, 0, "fds were left to the garbage collector");
      // The session still serves.
      assert.equal((await client.get(`/session/${id}/files`, { query: { path: "deep" } })).status, 200);
    });
  }
});
