// Files through the client against a real `kiln serve`: upload (bytes, text, Blob,
// nested paths, awkward names, progress), list, download as streamed tar parts (and
// extracted with extractTar), as zip and as single files, and every error a user can
// reach on the way (missing paths, too large or too many files, escaping paths, a
// JSON body past the server's limit).

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { configure, Uint8ArrayReader, Uint8ArrayWriter, ZipReader } from "@zip.js/zip.js";
import { KilnClient, type KilnSession, type Progress } from "../../src/client/index.ts";
import { extractTar, filesFromPaths } from "../../src/client/node.ts";
import { rejectsWith } from "./assert.ts";
import { startKiln, type KilnServer } from "./kiln-server.ts";

configure({ useWebWorkers: false });

const BODY_LIMIT = 64 * 1024;

let server: KilnServer;
let session: KilnSession;
let scratch: string;

before(async () => {
  server = await startKiln(["--body-limit-bytes", String(BODY_LIMIT)]);
  session = await new KilnClient({ url: server.url }).createSession({ lang: "javascript", name: "client-files" });
  scratch = await mkdtemp(join(tmpdir(), "kiln-client-files-"));
});
after(async () => {
  await session.destroy();
  await server.close();
  await rm(scratch, { recursive: true, force: true });
});

const bytes = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 0xff);

describe("client: files", () => {
  it("uploads bytes, text and Blobs under nested paths, names with % and quotes intact", async () => {
    const progress: Progress[] = [];
    await session.upload(
      [
        { path: "src/lib/data.bin", data: bytes(300_000) },
        { path: "src/main.js", data: "console.log('hi')\n" },
        { path: "/home/work/blob.txt", data: new Blob(["from a blob"]) },
        { path: '100% "sure".txt', data: "percent" },
        { path: "a%20b.txt", data: "not a space" },
      ],
      { onProgress: (p) => progress.push(p) },
    );
    const root = await session.listFiles();
    assert.deepEqual(root.map((e) => [e.filename, e.kind]).sort(), [
      ['100% "sure".txt', "file"],
      ["a%20b.txt", "file"],
      ["blob.txt", "file"],
      ["src", "dir"],
    ]);
    const lib = await session.listFiles("src/lib");
    assert.deepEqual(lib.map((e) => [e.filename, e.size, e.mode]), [["data.bin", 300_000, "-rw-r--r--"]]);
    assert.equal(await (await session.downloadSingle('100% "sure".txt')).text(), "percent");

    const last = progress.at(-1)!;
    assert.ok(last.total !== null && last.total > 300_000 && last.loaded === last.total, JSON.stringify(last));
    assert.ok(progress.every((p, i) => i === 0 || p.loaded >= progress[i - 1]!.loaded));
  });

  it("streams several paths as tar parts that extractTar writes out", async () => {
    const names: string[] = [];
    for await (const part of session.download(["src", "blob.txt"])) {
      names.push(part.name);
      await extractTar(part.body, join(scratch, "tar"));
    }
    assert.deepEqual(names, ["src.tar", "blob.txt.tar"]);
    assert.deepEqual(new Uint8Array(await readFile(join(scratch, "tar/src/lib/data.bin"))), bytes(300_000));
    assert.equal(await readFile(join(scratch, "tar/src/main.js"), "utf8"), "console.log('hi')\n");
    assert.equal(await readFile(join(scratch, "tar/blob.txt"), "utf8"), "from a blob");
  });

  it("moves on to the next tar part when one is left unread, and counts the bytes", async () => {
    let loaded = 0;
    const sizes: number[] = [];
    for await (const part of session.download(["src", "blob.txt"], { onProgress: (p) => (loaded = p.loaded) })) {
      if (part.name === "blob.txt.tar") sizes.push((await part.bytes()).length);
    }
    assert.deepEqual(sizes, [2048]);
    assert.ok(loaded > 300_000, String(loaded));
  });

  it("downloads paths as one zip and single files with their size", async () => {
    const zip = await session.downloadZip(["src", "blob.txt"]);
    assert.equal(zip.name, "client-files.zip");
    const reader = new ZipReader(new Uint8ArrayReader(await zip.bytes()));
    const entries = new Map((await reader.getEntries()).map((e) => [e.filename.replace(/\/$/, ""), e]));
    assert.ok(entries.has("src/lib/data.bin") && entries.has("blob.txt"), [...entries.keys()].join());
    const blob = entries.get("blob.txt")!;
    assert.ok(!blob.directory);
    assert.equal(new TextDecoder().decode(await blob.getData(new Uint8ArrayWriter())), "from a blob");
    await reader.close();

    const progress: Progress[] = [];
    const single = await session.downloadSingle("src/lib/data.bin", { onProgress: (p) => progress.push(p) });
    assert.equal(single.name, "data.bin");
    assert.equal(single.size, 300_000);
    assert.deepEqual(await single.bytes(), bytes(300_000));
    assert.deepEqual(progress.at(-1), { loaded: 300_000, total: 300_000 });
  });

  it("uploads local files and directories by path (filesFromPaths)", async () => {
    const local = join(scratch, "tar");
    const files = await filesFromPaths([join(local, "src"), join(local, "blob.txt")]);
    assert.deepEqual(files.map((f) => f.path), ["src/lib/data.bin", "src/main.js", "blob.txt"]);
    const relative = await filesFromPaths(["tests/client/kiln-server.ts", "./tests/client/assert.ts"]);
    assert.deepEqual(relative.map((f) => f.path), ["tests/client/kiln-server.ts", "tests/client/assert.ts"]);
    await session.upload(files.map((f) => ({ ...f, path: `copy/${f.path}` })));
    assert.deepEqual((await session.listFiles("copy/src/lib")).map((e) => e.size), [300_000]);
  });

  it("maps missing paths to 404 and directories where files belong to 400", async () => {
    await rejectsWith(session.download(["nope"]).next(), 404, "object-not-found", /nope does not exist/);
    await rejectsWith(session.downloadZip(["src", "nope"]), 404, "object-not-found");
    await rejectsWith(session.downloadSingle("nope.txt"), 404, "object-not-found");
    await rejectsWith(session.listFiles("nope"), 404, "object-not-found");
    await rejectsWith(session.downloadSingle("src"), 400, "invalid-api-params", /not a regular file/);
    await rejectsWith(session.download(["a", "b", "c", "d", "e", "f"]).next(), 400, "invalid-api-params", /at most 5 paths/);
  });

  it("maps refused uploads to 400: too large, too many, escaping /home/work; nothing lands", async () => {
    await rejectsWith(session.upload([{ path: "big.bin", data: bytes(1024 * 1024 + 1) }]), 400, "invalid-api-params", /Too large file/);
    const many = Array.from({ length: 21 }, (_, i) => ({ path: `many/${i}.txt`, data: "x" }));
    await rejectsWith(session.upload(many), 400, "invalid-api-params", /Too many files/);
    await rejectsWith(session.upload([{ path: "ok.txt", data: "ok" }, { path: "../escape.txt", data: "x" }]), 400, "invalid-api-params");
    const root = (await session.listFiles()).map((e) => e.filename);
    for (const name of ["big.bin", "many", "ok.txt"]) assert.ok(!root.includes(name), name);
  });

  it("maps a JSON body past the server's limit to 413", async () => {
    await rejectsWith(session.execute({ mode: "query", code: "x".repeat(BODY_LIMIT + 1) }), 413, "payload-too-large");
  });
});
