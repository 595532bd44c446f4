// POST /session/:id/upload, on both VFS backends: paths, directories, overwrite,
// limits (count, size, quota), path escapes, and the all-or-nothing rule.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  BACKENDS,
  assertAnyProblem,
  assertProblem,
  binaryBlob,
  bytesOf,
  makeEnv,
  textOf,
  type Client,
  type TestEnv,
  type UploadFile,
} from "../helpers/client.ts";

const MiB = 1024 * 1024;

for (const backend of BACKENDS) {
  describe(`upload (${backend})`, () => {
    let env: TestEnv;
    let client: Client;
    before(async () => {
      env = await makeEnv({ vfs: backend });
      client = env.client;
    });
    after(() => env.close());

    it("a relative path → 204; the file is listed, readable and visible to the kernel", async () => {
      const id = await client.newSession();
      const res = await client.upload(id, [{ filename: "hello.txt", data: "hello world" }]);
      assert.equal(res.status, 204, res.text);
      assert.equal(res.bytes.length, 0);
      const files = await client.ls(id);
      assert.equal(files.get("hello.txt")?.size, 11);
      assert.equal(textOf(await client.readFile(id, "hello.txt")), "hello world");
      const run = await client.query(id, "cat hello.txt");
      assert.equal(run.stdout, "hello world");
    });

    it("an absolute path under /home/work", async () => {
      const id = await client.newSession();
      const res = await client.upload(id, [{ filename: "/home/work/abs.txt", data: "abs" }]);
      assert.equal(res.status, 204, res.text);
      assert.equal(textOf(await client.readFile(id, "abs.txt")), "abs");
    });

    it("creates missing directories", async () => {
      const id = await client.newSession();
      await client.put(id, { "src/lib/deep/util.txt": "deep", "/home/work/other/x.txt": "x" });
      assert.deepEqual(await client.tree(id), [
        "other/",
        "other/x.txt",
        "src/",
        "src/lib/",
        "src/lib/deep/",
        "src/lib/deep/util.txt",
      ]);
      assert.ok((await client.ls(id)).get("src")?.mode.startsWith("d"));
    });

    it("normalises ./ and inner .. that stay inside", async () => {
      const id = await client.newSession();
      await client.put(id, { "./a/./b/../c.txt": "c" });
      assert.deepEqual(await client.tree(id), ["a/", "a/c.txt"]);
    });

    it("overwrites an existing file", async () => {
      const id = await client.newSession();
      await client.put(id, { "a.txt": "first version, long" });
      await client.put(id, { "a.txt": "second" });
      assert.equal(textOf(await client.readFile(id, "a.txt")), "second");
      assert.equal((await client.ls(id)).get("a.txt")?.size, 6);
    });

    it("binary content round-trips byte for byte", async () => {
      const id = await client.newSession();
      const blob = binaryBlob(70_000);
      await client.put(id, { "bin/blob.dat": blob });
      assert.deepEqual(await client.readFile(id, "bin/blob.dat"), blob);
    });

    it("an empty file", async () => {
      const id = await client.newSession();
      await client.put(id, { "empty.txt": new Uint8Array() });
      assert.equal((await client.ls(id)).get("empty.txt")?.size, 0);
    });

    it("a non-ASCII filename", async () => {
      const id = await client.newSession();
      await client.put(id, { "données/café ✓.txt": "ok" });
      assert.deepEqual(await client.tree(id), ["données/", "données/café ✓.txt"]);
    });

    it("percent-encoded filenames, as aiohttp (Backend.AI's Python client) sends them, are decoded", async () => {
      const id = await client.newSession();
      const res = await client.upload(id, [
        { filename: "src%2Fmain%20file.c", data: "c" },
        { filename: "caf%C3%A9%22q%22.txt", data: "q" },
        { filename: "100%.txt", data: "literal" },
      ]);
      assert.equal(res.status, 204, res.text);
      assert.deepEqual(await client.tree(id), ['100%.txt', 'café"q".txt', "src/", "src/main file.c"]);
    });

    it("a percent-encoded escape (%2e%2e%2f) is judged after decoding → 400, nothing written", async () => {
      const id = await client.newSession();
      const res = await client.upload(id, [{ filename: "ok.txt", data: "1" }, { filename: "%2e%2e%2fescape.txt", data: "evil" }]);
      assertProblem(res, 400, "invalid-api-params");
      assert.deepEqual(await client.tree(id), []);
    });

    it("ignores the field name", async () => {
      const id = await client.newSession();
      const res = await client.upload(id, [
        { name: "whatever", filename: "one.txt", data: "1" },
        { name: "src", filename: "two.txt", data: "2" },
      ]);
      assert.equal(res.status, 204, res.text);
      assert.deepEqual(await client.tree(id), ["one.txt", "two.txt"]);
    });

    it("accepts a body built by FormData, as real clients send it", async () => {
      const id = await client.newSession();
      const form = new FormData();
      form.append("src", new Blob([bytesOf("from form")], { type: "application/octet-stream" }), "form/f.txt");
      form.append("src", new Blob([bytesOf("second")]), "g.txt");
      const res = await client.post(`/session/${id}/upload`, { body: form });
      assert.equal(res.status, 204, res.text);
      assert.equal(textOf(await client.readFile(id, "form/f.txt")), "from form");
      assert.equal(textOf(await client.readFile(id, "g.txt")), "second");
    });

    it("20 files in one request → 204", async () => {
      const id = await client.newSession();
      const files: UploadFile[] = Array.from({ length: 20 }, (_, i) => ({ filename: `many/f${i}.txt`, data: `${i}` }));
      const res = await client.upload(id, files);
      assert.equal(res.status, 204, res.text);
      assert.equal((await client.ls(id, "many")).size, 20);
    });

    it("21 files → 400 Too many files, and none of them is written", async () => {
      const id = await client.newSession();
      const files: UploadFile[] = Array.from({ length: 21 }, (_, i) => ({ filename: `many/f${i}.txt`, data: `${i}` }));
      const res = await client.upload(id, files);
      assertProblem(res, 400, "invalid-api-params", { msg: "Too many files" });
      assert.deepEqual(await client.tree(id), []);
    });

    it("a file of exactly 1,048,576 bytes → 204", async () => {
      const id = await client.newSession();
      const data = binaryBlob(MiB);
      await client.put(id, { "one-mib.bin": data });
      assert.equal((await client.ls(id)).get("one-mib.bin")?.size, MiB);
      assert.deepEqual(await client.readFile(id, "one-mib.bin"), data);
    });

    it("a file of 1,048,577 bytes → 400 Too large file, nothing written", async () => {
      const id = await client.newSession();
      const res = await client.upload(id, [
        { filename: "small-first.txt", data: "small" },
        { filename: "too-big.bin", data: new Uint8Array(MiB + 1) },
      ]);
      assertProblem(res, 400, "invalid-api-params", { msg: "Too large file" });
      assert.deepEqual(await client.tree(id), []);
    });

    it("a much larger file → 400 Too large file", async () => {
      const id = await client.newSession();
      const res = await client.upload(id, [{ filename: "huge.bin", data: new Uint8Array(5 * MiB) }]);
      assertProblem(res, 400, "invalid-api-params", { msg: "Too large file" });
      assert.deepEqual(await client.tree(id), []);
    });

    const badPaths: [string, string][] = [
      ["a parent escape", "../x"],
      ["an absolute path outside /home/work", "/etc/passwd"],
      ["an inner escape", "a/../../x"],
      ["an absolute escape", "/home/work/../etc/x"],
      ["a sibling of /home/work", "/home/workx/a.txt"],
      ["a NUL byte", "a\u0000b.txt"],
      ["a backslash", "a\\\\b.txt"],
      ["a backslash escape", "..\\\\..\\\\x"],
      ["the root itself", "/home/work"],
    ];
    for (const [what, filename] of badPaths) {
      it(`${what} (${JSON.stringify(filename)}) → 400 invalid-api-params, nothing written`, async () => {
        const id = await client.newSession();
        const res = await client.upload(id, [{ filename, data: "evil" }]);
        assertProblem(res, 400, "invalid-api-params");
        assert.deepEqual(await client.tree(id), []);
      });
    }

    it("5 valid files and 1 invalid path → 400, none of the 5 exists", async () => {
      const id = await client.newSession();
      const files: UploadFile[] = [
        ...Array.from({ length: 5 }, (_, i) => ({ filename: `ok/f${i}.txt`, data: `${i}` })),
        { filename: "../escape.txt", data: "evil" },
      ];
      const res = await client.upload(id, files);
      assertProblem(res, 400, "invalid-api-params");
      assert.deepEqual(await client.tree(id), []);
    });

    it("a rejected upload leaves earlier files untouched", async () => {
      const id = await client.newSession();
      await client.put(id, { "keep.txt": "original" });
      const res = await client.upload(id, [
        { filename: "keep.txt", data: "overwritten?" },
        { filename: "/etc/passwd", data: "evil" },
      ]);
      assertProblem(res, 400, "invalid-api-params");
      assert.equal(textOf(await client.readFile(id, "keep.txt")), "original");
      assert.deepEqual(await client.tree(id), ["keep.txt"]);
    });

    it("a directory at the target path → 400, nothing written", async () => {
      const id = await client.newSession();
      await client.put(id, { "dir/inside.txt": "x" });
      const res = await client.upload(id, [
        { filename: "other.txt", data: "o" },
        { filename: "dir", data: "not a dir" },
      ]);
      assertProblem(res, 400, "invalid-api-params");
      assert.deepEqual(await client.tree(id), ["dir/", "dir/inside.txt"]);
    });

    it("a file where a directory is needed → 400, not 500", async () => {
      const id = await client.newSession();
      await client.put(id, { "plain.txt": "x" });
      const res = await client.upload(id, [{ filename: "plain.txt/child.txt", data: "c" }]);
      assertAnyProblem(res, 400);
      assert.deepEqual(await client.tree(id), ["plain.txt"]);
    });

    it("a JSON body (not multipart) → 400", async () => {
      const id = await client.newSession();
      const res = await client.post(`/session/${id}/upload`, { json: { files: ["a.txt"] } });
      assert.equal(res.status, 400, res.text);
      assert.match(res.contentType, /^application\/problem\+json/);
    });

    it("text/plain (not multipart) → 400", async () => {
      const id = await client.newSession();
      const res = await client.post(`/session/${id}/upload`, { body: "hello", headers: { "content-type": "text/plain" } });
      assert.equal(res.status, 400, res.text);
      assert.match(res.contentType, /^application\/problem\+json/);
    });

    it("no body at all → 400", async () => {
      const id = await client.newSession();
      const res = await client.post(`/session/${id}/upload`);
      assert.equal(res.status, 400, res.text);
    });

    it("multipart without a boundary → 400", async () => {
      const id = await client.newSession();
      const res = await client.post(`/session/${id}/upload`, {
        body: "--x\r\n\r\n--x--\r\n",
        headers: { "content-type": "multipart/form-data" },
      });
      assert.equal(res.status, 400, res.text);
      assert.match(res.contentType, /^application\/problem\+json/);
    });

    it("a truncated multipart body → 400, nothing written", async () => {
      const id = await client.newSession();
      const boundary = "----truncated";
      const body =
        `--${boundary}\r\nContent-Disposition: form-data; name="src"; filename="a.txt"\r\n\r\nhello\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="src"; filename="b.txt"\r\n\r\nunfinished`;
      const res = await client.post(`/session/${id}/upload`, {
        body,
        headers: { "content-type": `multipart/form-data; boundary=${boundary}` },
      });
      assert.equal(res.status, 400, res.text);
      assert.match(res.contentType, /^application\/problem\+json/);
      assert.deepEqual(await client.tree(id), []);
    });

    it("an empty filename → 400 or ignored (204), never 500, nothing written", async () => {
      const id = await client.newSession();
      const res = await client.upload(id, [{ filename: "", data: "x" }]);
      assert.ok(res.status === 204 || res.status === 400, `${res.status} ${res.text}`);
      assert.deepEqual(await client.tree(id), []);
    });

    it("a multipart body with no files → 400 or 204, never 500", async () => {
      const id = await client.newSession();
      const boundary = "----empty";
      const res = await client.post(`/session/${id}/upload`, {
        body: `--${boundary}--\r\n`,
        headers: { "content-type": `multipart/form-data; boundary=${boundary}` },
      });
      assert.ok(res.status === 204 || res.status === 400, `${res.status} ${res.text}`);
      assert.deepEqual(await client.tree(id), []);
    });

    it("an unknown session → 404 object-not-found", async () => {
      const res = await client.upload(crypto.randomUUID(), [{ filename: "a.txt", data: "a" }]);
      assertProblem(res, 404, "object-not-found", { title: "No such session." });
    });
  });

  describe(`upload quotas (${backend})`, () => {
    let env: TestEnv;
    let client: Client;
    before(async () => {
      env = await makeEnv({ vfs: backend, config: { sessionMaxBytes: 1000, sessionMaxFiles: 4 } });
      client = env.client;
    });
    after(() => env.close());

    it("bytes past sessionMaxBytes → 412 quota-exceeded, nothing written", async () => {
      const id = await client.newSession();
      await client.put(id, { "a.bin": new Uint8Array(600) });
      const res = await client.upload(id, [
        { filename: "b.bin", data: new Uint8Array(100) },
        { filename: "c.bin", data: new Uint8Array(500) },
      ]);
      assertProblem(res, 412, "quota-exceeded");
      assert.deepEqual(await client.tree(id), ["a.bin"]);
    });

    it("bytes up to sessionMaxBytes are fine", async () => {
      const id = await client.newSession();
      await client.put(id, { "a.bin": new Uint8Array(600), "b.bin": new Uint8Array(400) });
      assert.deepEqual(await client.tree(id), ["a.bin", "b.bin"]);
    });

    it("overwriting a file counts its new size, not both", async () => {
      const id = await client.newSession();
      await client.put(id, { "a.bin": new Uint8Array(900) });
      await client.put(id, { "a.bin": new Uint8Array(950) });
      assert.equal((await client.ls(id)).get("a.bin")?.size, 950);
    });

    it("entries past sessionMaxFiles → 412 quota-exceeded, nothing written", async () => {
      const id = await client.newSession();
      await client.put(id, { "f1.txt": "1", "f2.txt": "2", "f3.txt": "3" });
      const res = await client.upload(id, [
        { filename: "f4.txt", data: "4" },
        { filename: "f5.txt", data: "5" },
      ]);
      assertProblem(res, 412, "quota-exceeded");
      assert.deepEqual(await client.tree(id), ["f1.txt", "f2.txt", "f3.txt"]);
    });

    it("new directories count as entries", async () => {
      const id = await client.newSession();
      // d1/, d1/d2/, d1/d2/d3/, d1/d2/d3/f.txt = 4 entries: fine. One more directory level is not.
      await client.put(id, { "d1/d2/d3/f.txt": "x" });
      const res = await client.upload(id, [{ filename: "e1/g.txt", data: "y" }]);
      assertProblem(res, 412, "quota-exceeded");
      assert.deepEqual(await client.tree(id), ["d1/", "d1/d2/", "d1/d2/d3/", "d1/d2/d3/f.txt"]);
    });
  });
}
