// GET /session/:id/files on both VFS backends: the listing format, the path
// parameter (query string; the JSON-body-on-GET form is in http-server.test.ts,
// since fetch's Request cannot carry a GET body), and its errors.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { BACKENDS, assertAnyProblem, assertProblem, makeEnv, type Client, type FileEntry, type TestEnv } from "../helpers/client.ts";

for (const backend of BACKENDS) {
  describe(`files (${backend})`, () => {
    let env: TestEnv;
    let client: Client;
    let id: string;
    before(async () => {
      env = await makeEnv({ vfs: backend });
      client = env.client;
      id = await client.newSession();
      await client.put(id, {
        "a.txt": "hello",
        "sub/b.txt": "bee",
        "sub/deep/c.txt": "sea sea",
      });
    });
    after(() => env.close());

    it("lists /home/work by default: {files: JSON string, folder_path, abspath, errors}", async () => {
      const res = await client.listFiles(id);
      assert.equal(res.status, 200, res.text);
      assert.match(res.contentType, /^application\/json/);
      assert.equal(typeof res.json.files, "string");
      assert.equal(res.json.folder_path, "/home/work");
      assert.equal(res.json.abspath, "/home/work");
      assert.equal(res.json.errors, "");
      const entries = JSON.parse(res.json.files) as FileEntry[];
      assert.deepEqual(entries.map((e) => e.filename).sort(), ["a.txt", "sub"]);
    });

    it("each entry has filename, mode, size, ctime, mtime, atime", async () => {
      const files = await client.ls(id);
      const a = files.get("a.txt")!;
      assert.deepEqual(Object.keys(a).sort(), ["atime", "ctime", "filename", "mode", "mtime", "size"]);
      assert.equal(a.mode, "-rw-r--r--");
      assert.equal(a.size, 5);
      for (const key of ["ctime", "mtime", "atime"] as const) {
        assert.equal(typeof a[key], "number", key);
        assert.ok(Number.isFinite(a[key]) && a[key] > 0, `${key} ${a[key]}`);
      }
      const sub = files.get("sub")!;
      assert.equal(sub.mode, "drwxr-xr-x");
      assert.equal(typeof sub.size, "number");
    });

    it("mode strings are 10 characters, d for directories and - for files", async () => {
      for (const dir of [undefined, "sub", "sub/deep"]) {
        for (const entry of (await client.ls(id, dir)).values()) {
          assert.match(entry.mode, /^[-d][-r][-w][-xsS][-r][-w][-xsS][-r][-w][-xtT]$/, entry.mode);
        }
      }
      assert.equal((await client.ls(id, "sub")).get("deep")?.mode[0], "d");
      assert.equal((await client.ls(id, "sub")).get("b.txt")?.mode[0], "-");
    });

    it("?path= a relative subdirectory", async () => {
      const res = await client.listFiles(id, "sub");
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.folder_path, "/home/work/sub");
      assert.equal(res.json.abspath, "/home/work/sub");
      assert.equal(res.json.errors, "");
      const entries = JSON.parse(res.json.files) as FileEntry[];
      assert.deepEqual(entries.map((e) => e.filename).sort(), ["b.txt", "deep"]);
      assert.equal(entries.find((e) => e.filename === "b.txt")?.size, 3);
    });

    it("?path= an absolute path under /home/work", async () => {
      const res = await client.listFiles(id, "/home/work/sub/deep");
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.folder_path, "/home/work/sub/deep");
      assert.equal(res.json.abspath, "/home/work/sub/deep");
      const entries = JSON.parse(res.json.files) as FileEntry[];
      assert.deepEqual(entries.map((e) => [e.filename, e.size]), [["c.txt", 7]]);
    });

    for (const root of [".", "/home/work", "/home/work/", ""]) {
      it(`?path=${JSON.stringify(root)} is the root`, async () => {
        const res = await client.get(`/session/${id}/files`, { query: { path: root } });
        assert.equal(res.status, 200, res.text);
        assert.equal(res.json.folder_path, "/home/work");
        assert.deepEqual((JSON.parse(res.json.files) as FileEntry[]).map((e) => e.filename).sort(), ["a.txt", "sub"]);
      });
    }

    it("an empty session lists []", async () => {
      const empty = await client.newSession();
      const res = await client.listFiles(empty);
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(JSON.parse(res.json.files), []);
    });

    it("reflects files the kernel wrote", async () => {
      const sid = await client.newSession();
      await client.query(sid, "write out/result.txt 42");
      const out = await client.ls(sid, "out");
      assert.equal(out.get("result.txt")?.size, 2);
    });

    it("a path that does not exist → 404", async () => {
      const res = await client.listFiles(id, "no/such/dir");
      assertProblem(res, 404, "object-not-found");
    });

    it("a path to a file → 400", async () => {
      const res = await client.listFiles(id, "a.txt");
      assertAnyProblem(res, 400);
    });

    it("a path under a file → 400 or 404, not 500", async () => {
      const res = await client.listFiles(id, "a.txt/x");
      assert.ok(res.status === 400 || res.status === 404, `${res.status} ${res.text}`);
      assert.match(res.contentType, /^application\/problem\+json/);
    });

    for (const bad of ["..", "../..", "/etc", "sub/../../x", "/home/work/../etc", "a\\b", "x\u0000y"]) {
      it(`an escaping or invalid path ${JSON.stringify(bad)} → 400`, async () => {
        const res = await client.listFiles(id, bad);
        assertAnyProblem(res, 400);
      });
    }

    it("an unknown session → 404 object-not-found", async () => {
      const res = await client.listFiles(crypto.randomUUID());
      assertProblem(res, 404, "object-not-found", { title: "No such session." });
    });
  });
}
