// GET/POST /session/:id/download (multipart/mixed of tars, or one zip) and
// download_single, on both VFS backends.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  BACKENDS,
  assertAnyProblem,
  assertProblem,
  binaryBlob,
  byName,
  bytesOf,
  makeEnv,
  parseMixed,
  textOf,
  untar,
  unzip,
  type ApiResponse,
  type Client,
  type MixedPart,
  type TestEnv,
} from "../helpers/client.ts";

const MiB = 1024 * 1024;

function assertPartHeaders(part: MixedPart, name: string): void {
  assert.equal(part.headers["content-type"], "application/x-tar");
  assert.equal(part.headers["content-encoding"], "identity");
  assert.equal(part.headers["content-transfer-encoding"], "binary");
  const disposition = part.headers["content-disposition"] ?? "";
  assert.match(disposition, /^attachment\b/i, disposition);
  assert.ok(disposition.includes(name), `${disposition} names ${name}`);
}

for (const backend of BACKENDS) {
  describe(`download (${backend})`, () => {
    let env: TestEnv;
    let client: Client;
    let id: string;
    const blob = binaryBlob(100_000);
    const big = Array.from({ length: 4 }, (_, i) => binaryBlob(MiB).map((b) => (b + i) & 0xff));

    const download = (query: Record<string, string | string[]>, init: { json?: unknown; headers?: Record<string, string> } = {}) =>
      init.json === undefined
        ? client.get(`/session/${id}/download`, { query, headers: init.headers })
        : client.post(`/session/${id}/download`, { query, json: init.json, headers: init.headers });

    before(async () => {
      env = await makeEnv({ vfs: backend });
      client = env.client;
      id = await client.newSession();
      await client.put(id, {
        "a.txt": "hello",
        "bin.dat": blob,
        "sub/b.txt": "bee",
        "sub/deep/c.txt": "sea sea",
        "f1.txt": "1",
        "f2.txt": "2",
        "f3.txt": "3",
        "f4.txt": "4",
        "f5.txt": "5",
        "f6.txt": "6",
      });
      await client.put(id, Object.fromEntries(big.map((data, i) => [`big/part${i}.bin`, data])));
    });
    after(() => env.close());

    it("POST {files: [one file]} → multipart/mixed with one tar part holding the file", async () => {
      const res = await client.post(`/session/${id}/download`, { json: { files: ["a.txt"] } });
      assert.equal(res.status, 200, res.text.slice(0, 300));
      const parts = parseMixed(res);
      assert.equal(parts.length, 1);
      assertPartHeaders(parts[0]!, "a.txt");
      const entries = await untar(parts[0]!.body);
      assert.equal(entries.length, 1);
      assert.equal(entries[0]!.name.replace(/^\.\//, ""), "a.txt");
      assert.equal(entries[0]!.type, "file");
      assert.equal(textOf(entries[0]!.data), "hello");
    });

    it("binary content survives byte for byte", async () => {
      const res = await client.post(`/session/${id}/download`, { json: { files: ["bin.dat"] } });
      const [part] = parseMixed(res);
      const entries = byName(await untar(part!.body));
      assert.deepEqual(entries.get("bin.dat")?.data, blob);
    });

    it("a directory is archived recursively", async () => {
      const res = await client.post(`/session/${id}/download`, { json: { files: ["sub"] } });
      assert.equal(res.status, 200, res.text.slice(0, 300));
      const parts = parseMixed(res);
      assert.equal(parts.length, 1);
      assertPartHeaders(parts[0]!, "sub");
      const entries = byName(await untar(parts[0]!.body));
      assert.equal(textOf(entries.get("sub/b.txt")!.data), "bee");
      assert.equal(textOf(entries.get("sub/deep/c.txt")!.data), "sea sea");
      assert.equal(entries.get("sub")?.type, "directory");
      assert.equal(entries.get("sub/deep")?.type, "directory");
      assert.deepEqual([...entries.keys()].sort(), ["sub", "sub/b.txt", "sub/deep", "sub/deep/c.txt"]);
    });

    it("a nested file is archived under its own name", async () => {
      const res = await client.post(`/session/${id}/download`, { json: { files: ["sub/deep/c.txt"] } });
      const parts = parseMixed(res);
      assertPartHeaders(parts[0]!, "c.txt");
      const entries = byName(await untar(parts[0]!.body));
      assert.deepEqual([...entries.keys()], ["c.txt"]);
      assert.equal(textOf(entries.get("c.txt")!.data), "sea sea");
    });

    it("an absolute path under /home/work", async () => {
      const res = await client.post(`/session/${id}/download`, { json: { files: ["/home/work/a.txt"] } });
      assert.equal(res.status, 200, res.text.slice(0, 300));
      const entries = byName(await untar(parseMixed(res)[0]!.body));
      assert.equal(textOf(entries.get("a.txt")!.data), "hello");
    });

    it("one part per path, in request order", async () => {
      const res = await client.post(`/session/${id}/download`, { json: { files: ["sub", "a.txt", "sub/b.txt"] } });
      assert.equal(res.status, 200, res.text.slice(0, 300));
      const parts = parseMixed(res);
      assert.equal(parts.length, 3);
      assertPartHeaders(parts[0]!, "sub");
      assertPartHeaders(parts[1]!, "a.txt");
      assertPartHeaders(parts[2]!, "b.txt");
      assert.ok(byName(await untar(parts[0]!.body)).has("sub/deep/c.txt"));
      assert.equal(textOf(byName(await untar(parts[1]!.body)).get("a.txt")!.data), "hello");
      assert.equal(textOf(byName(await untar(parts[2]!.body)).get("b.txt")!.data), "bee");
    });

    it("several MiB in one directory archive", async () => {
      const res = await client.post(`/session/${id}/download`, { json: { files: ["big"] } });
      assert.equal(res.status, 200, res.text.slice(0, 300));
      const entries = byName(await untar(parseMixed(res)[0]!.body));
      for (let i = 0; i < big.length; i++) assert.deepEqual(entries.get(`big/part${i}.bin`)?.data, big[i], `part${i}`);
    });

    async function namesOfParts(res: ApiResponse): Promise<string[][]> {
      assert.equal(res.status, 200, res.text.slice(0, 300));
      const out: string[][] = [];
      for (const part of parseMixed(res)) out.push([...byName(await untar(part.body)).keys()].sort());
      return out;
    }

    it("GET with repeated ?files=", async () => {
      assert.deepEqual(await namesOfParts(await download({ files: ["a.txt", "sub/b.txt"] })), [["a.txt"], ["b.txt"]]);
    });

    it("GET with comma-joined ?files=", async () => {
      assert.deepEqual(await namesOfParts(await download({ files: "a.txt,sub/b.txt" })), [["a.txt"], ["b.txt"]]);
    });

    it("POST with ?files= and no body (web UI style)", async () => {
      const res = await client.post(`/session/${id}/download`, { query: { files: "a.txt,f1.txt" } });
      assert.deepEqual(await namesOfParts(res), [["a.txt"], ["f1.txt"]]);
    });

    it("5 paths are fine", async () => {
      const files = ["f1.txt", "f2.txt", "f3.txt", "f4.txt", "f5.txt"];
      assert.deepEqual(await namesOfParts(await download({}, { json: { files } })), files.map((f) => [f]));
    });

    it("6 paths → 400", async () => {
      const files = ["f1.txt", "f2.txt", "f3.txt", "f4.txt", "f5.txt", "f6.txt"];
      assertAnyProblem(await download({}, { json: { files } }), 400);
      assertAnyProblem(await download({ files }), 400);
      assertAnyProblem(await download({ files: files.join(",") }), 400);
    });

    it("0 paths → 400", async () => {
      assertAnyProblem(await download({}, { json: { files: [] } }), 400);
      assertAnyProblem(await download({}), 400);
      assertAnyProblem(await download({}, { json: {} }), 400);
    });

    it("files that is not a list of strings → 400", async () => {
      assertAnyProblem(await download({}, { json: { files: [1, 2] } }), 400);
      assertAnyProblem(await download({}, { json: { files: { a: 1 } } }), 400);
      // A bare string may be read as one path (or a comma-joined list), or refused; never a 500.
      const single = await download({}, { json: { files: "a.txt" } });
      assert.ok(single.status === 200 || single.status === 400, `${single.status} ${single.text.slice(0, 200)}`);
    });

    it("a missing path → 404", async () => {
      assertAnyProblem(await download({}, { json: { files: ["nope.txt"] } }), 404);
      assertAnyProblem(await download({}, { json: { files: ["a.txt", "nope/deeper.txt"] } }), 404);
      assertAnyProblem(await download({ files: "nope.txt" }), 404);
    });

    for (const bad of ["../x", "/etc/passwd", "sub/../../x", "a\\b"]) {
      it(`an escaping path ${JSON.stringify(bad)} → 400`, async () => {
        assertAnyProblem(await download({}, { json: { files: [bad] } }), 400);
      });
    }

    it("?format=zip → one application/zip archive of every path", async () => {
      const res = await client.post(`/session/${id}/download`, { query: { format: "zip" }, json: { files: ["a.txt", "sub", "bin.dat"] } });
      assert.equal(res.status, 200, res.text.slice(0, 300));
      assert.match(res.contentType, /^application\/zip\b/);
      const zip = await unzip(res.bytes);
      assert.equal(textOf(zip.get("a.txt")!.data), "hello");
      assert.equal(textOf(zip.get("sub/b.txt")!.data), "bee");
      assert.equal(textOf(zip.get("sub/deep/c.txt")!.data), "sea sea");
      assert.deepEqual(zip.get("bin.dat")!.data, blob);
      for (const [name, entry] of zip) {
        assert.ok(["a.txt", "sub", "sub/deep", "sub/b.txt", "sub/deep/c.txt", "bin.dat"].includes(name), name);
        if (name === "sub" || name === "sub/deep") assert.equal(entry.directory, true);
      }
    });

    it("GET ?files=…&format=zip", async () => {
      const res = await download({ files: ["a.txt"], format: "zip" });
      assert.equal(res.status, 200, res.text.slice(0, 300));
      assert.match(res.contentType, /^application\/zip\b/);
      assert.equal(textOf((await unzip(res.bytes)).get("a.txt")!.data), "hello");
    });

    it("Accept: application/zip → zip", async () => {
      const res = await download({}, { json: { files: ["sub/b.txt"] }, headers: { accept: "application/zip" } });
      assert.equal(res.status, 200, res.text.slice(0, 300));
      assert.match(res.contentType, /^application\/zip\b/);
      assert.equal(textOf((await unzip(res.bytes)).get("b.txt")!.data), "bee");
    });

    it("zip of several MiB", async () => {
      const res = await download({ format: "zip" }, { json: { files: ["big"] } });
      const zip = await unzip(res.bytes);
      for (let i = 0; i < big.length; i++) assert.deepEqual(zip.get(`big/part${i}.bin`)?.data, big[i]);
    });

    it("zip: a missing path → 404, too many → 400", async () => {
      assertAnyProblem(await download({ format: "zip" }, { json: { files: ["nope.txt"] } }), 404);
      assertAnyProblem(await download({ format: "zip" }, { json: { files: ["f1.txt", "f2.txt", "f3.txt", "f4.txt", "f5.txt", "f6.txt"] } }), 400);
    });

    it("download from an unknown session → 404 object-not-found", async () => {
      const res = await client.post(`/session/${crypto.randomUUID()}/download`, { json: { files: ["a.txt"] } });
      assertProblem(res, 404, "object-not-found", { title: "No such session." });
    });

    describe("download_single", () => {
      it("GET ?file= → the raw bytes", async () => {
        const res = await client.get(`/session/${id}/download_single`, { query: { file: "bin.dat" } });
        assert.equal(res.status, 200, res.text.slice(0, 300));
        assert.deepEqual(res.bytes, blob);
      });

      it("POST {file} → the raw bytes", async () => {
        const res = await client.post(`/session/${id}/download_single`, { json: { file: "sub/deep/c.txt" } });
        assert.equal(res.status, 200, res.text.slice(0, 300));
        assert.equal(res.text, "sea sea");
      });

      it("an absolute path under /home/work", async () => {
        assert.equal(textOf(await client.readFile(id, "/home/work/a.txt")), "hello");
      });

      it("1 MiB file", async () => {
        assert.deepEqual(await client.readFile(id, "big/part2.bin"), big[2]);
      });

      it("a missing file → 404", async () => {
        assertAnyProblem(await client.downloadSingle(id, "nope.txt"), 404);
        assertAnyProblem(await client.post(`/session/${id}/download_single`, { json: { file: "nope.txt" } }), 404);
      });

      it("a directory → 400", async () => {
        assertAnyProblem(await client.downloadSingle(id, "sub"), 400);
      });

      it("no file parameter → 400", async () => {
        assertAnyProblem(await client.get(`/session/${id}/download_single`), 400);
        assertAnyProblem(await client.post(`/session/${id}/download_single`, { json: {} }), 400);
      });

      for (const bad of ["../x", "/etc/passwd", "sub/../../x"]) {
        it(`an escaping path ${JSON.stringify(bad)} → 400`, async () => {
          assertAnyProblem(await client.downloadSingle(id, bad), 400);
        });
      }

      it("an unknown session → 404 object-not-found", async () => {
        assertProblem(await client.downloadSingle(crypto.randomUUID(), "a.txt"), 404, "object-not-found", { title: "No such session." });
      });
    });

    it("a file uploaded after a download is seen by the next download", async () => {
      await client.put(id, { "late.txt": bytesOf("late") });
      const res = await client.post(`/session/${id}/download`, { json: { files: ["late.txt"] } });
      assert.equal(textOf(byName(await untar(parseMixed(res)[0]!.body)).get("late.txt")!.data), "late");
    });
  });
}
