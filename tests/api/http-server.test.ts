// The app behind a real HTTP server (Node's or Bun's, whichever runs the tests):
// a whole client session over the network, GET with a JSON body (old clients),
// body limits on the wire, and long polls not blocking other requests.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import {
  API_VERSION,
  Client,
  assertAnyProblem,
  assertProblem,
  byName,
  makeEnv,
  parseMixed,
  textOf,
  uniqueName,
  untar,
  unzip,
  type FileEntry,
  type TestEnv,
} from "../helpers/client.ts";
import { serveApp, type TestServer } from "../helpers/serve.ts";

/** A request with node:http, which (unlike fetch) can send a body on GET. */
function rawRequest(
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; contentType: string; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: body === undefined ? headers : { ...headers, "content-length": String(Buffer.byteLength(body)) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, contentType: String(res.headers["content-type"] ?? ""), text: Buffer.concat(chunks).toString("utf8") }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

describe("http server", () => {
  let env: TestEnv;
  let server: TestServer;
  let client: Client;
  before(async () => {
    env = await makeEnv({ config: { flushIntervalMs: 150, bodyLimitBytes: 4096 } });
    server = await serveApp(env.app);
    client = Client.forUrl(server.url);
  });
  after(async () => {
    await server.close();
    await env.close();
  });

  it("GET / over HTTP", async () => {
    const res = await client.get("/");
    assert.equal(res.status, 200);
    assert.equal(res.json.version, API_VERSION);
    assert.equal(typeof res.json.manager, "string");
  });

  it("a whole session: create, upload (FormData), batch, files, download, zip, logs, delete", async () => {
    const name = uniqueName("http");
    const created = await client.createSession({ lang: "script", clientSessionToken: name, config: { resources: {} } });
    assert.equal(created.status, 201, created.text);
    const id = created.json.sessionId as string;

    const form = new FormData();
    form.append("src", new Blob(["print built ok\n"]), "build.script");
    form.append("src", new Blob(["print hello from main; write out/result.txt 42\n"]), "main.script");
    form.append("src", new Blob(["data"]), "/home/work/data/input.txt");
    const up = await client.post(`/session/${id}/upload`, { body: form });
    assert.equal(up.status, 204, up.text);

    const run = await client.batch(id, { clean: "*", build: "*", exec: "*" });
    assert.deepEqual(run.statuses, ["clean-finished", "build-finished", "finished"]);
    assert.equal(run.final.exitCode, 0);
    assert.equal(run.stdout, "built ok\nhello from main\n");

    const files = await client.ls(id);
    assert.deepEqual([...files.keys()].sort(), ["build.script", "data", "main.script", "out"]);
    assert.equal((await client.ls(id, "out")).get("result.txt")?.size, 2);

    const dl = await client.post(`/session/${id}/download`, { json: { files: ["out", "data/input.txt"] } });
    assert.equal(dl.status, 200, dl.text.slice(0, 300));
    const parts = parseMixed(dl);
    assert.equal(parts.length, 2);
    assert.equal(parts[0]!.headers["content-type"], "application/x-tar");
    assert.equal(parts[0]!.headers["content-encoding"], "identity");
    assert.equal(parts[0]!.headers["content-transfer-encoding"], "binary");
    assert.equal(textOf(byName(await untar(parts[0]!.body)).get("out/result.txt")!.data), "42");
    assert.equal(textOf(byName(await untar(parts[1]!.body)).get("input.txt")!.data), "data");

    const get = await client.get(`/session/${id}/download`, { query: { files: ["main.script"] } });
    assert.equal(get.status, 200, get.text.slice(0, 300));
    assert.ok(textOf(byName(await untar(parseMixed(get)[0]!.body)).get("main.script")!.data).startsWith("print hello"));

    const zip = await client.get(`/session/${id}/download`, { query: { files: "out", format: "zip" } });
    assert.match(zip.contentType, /^application\/zip/);
    assert.equal(textOf((await unzip(zip.bytes)).get("out/result.txt")!.data), "42");

    const single = await client.get(`/session/${id}/download_single`, { query: { file: "out/result.txt" } });
    assert.equal(single.status, 200);
    assert.equal(single.text, "42");

    const logs = await client.logs(id);
    assert.ok(logs.json.result.logs.includes("hello from main"));

    const info = await client.info(name);
    assert.equal(info.json.sessionId, id);

    const del = await client.destroy(id);
    assert.equal(del.status, 200);
    assertProblem(await client.info(id), 404, "object-not-found");
  });

  // Bun.serve hands the app no body for a GET, so the old clients' JSON body works on Node only (README).
  const getBodies = "Bun" in globalThis ? "Bun.serve drops GET request bodies" : false;
  it("GET /files with a JSON body {path} (old clients)", { skip: getBodies }, async () => {
    const id = await client.newSession();
    await client.put(id, { "dir/x.txt": "xx", "top.txt": "t" });
    const res = await rawRequest(`${server.url}/session/${id}/files`, "GET", { "content-type": "application/json" }, JSON.stringify({ path: "dir" }));
    assert.equal(res.status, 200, res.text);
    const body = JSON.parse(res.text);
    assert.equal(body.folder_path, "/home/work/dir");
    assert.equal(body.abspath, "/home/work/dir");
    assert.deepEqual((JSON.parse(body.files) as FileEntry[]).map((e) => [e.filename, e.size]), [["x.txt", 2]]);

    const root = await rawRequest(`${server.url}/session/${id}/files`, "GET", { "content-type": "application/json" }, JSON.stringify({ path: "/home/work" }));
    assert.equal(root.status, 200, root.text);
    assert.deepEqual((JSON.parse(JSON.parse(root.text).files) as FileEntry[]).map((e) => e.filename).sort(), ["dir", "top.txt"]);

    const missing = await rawRequest(`${server.url}/session/${id}/files`, "GET", { "content-type": "application/json" }, JSON.stringify({ path: "nope" }));
    assert.equal(missing.status, 404, missing.text);
    assert.match(missing.contentType, /^application\/problem\+json/);

    const escape = await rawRequest(`${server.url}/session/${id}/files`, "GET", { "content-type": "application/json" }, JSON.stringify({ path: "../.." }));
    assert.equal(escape.status, 400, escape.text);
  });

  it("POST /download with a JSON body and GET /download with a query answer the same archive", async () => {
    const id = await client.newSession();
    await client.put(id, { "same.txt": "same bytes" });
    const viaPost = await client.post(`/session/${id}/download`, { json: { files: ["same.txt"] } });
    const viaGet = await client.get(`/session/${id}/download`, { query: { files: "same.txt" } });
    const a = byName(await untar(parseMixed(viaPost)[0]!.body)).get("same.txt")!;
    const b = byName(await untar(parseMixed(viaGet)[0]!.body)).get("same.txt")!;
    assert.deepEqual(a.data, b.data);
  });

  it("an oversized JSON body → 413 over the wire, and the server keeps serving", async () => {
    const res = await client.post("/session", { json: { lang: "script", clientSessionToken: uniqueName(), pad: "p".repeat(50_000) } });
    assertProblem(res, 413, "payload-too-large");
    const ok = await client.get("/");
    assert.equal(ok.status, 200);
  });

  it("application/xml → 415 over the wire", async () => {
    const res = await client.post("/session", { body: "<x/>", headers: { "content-type": "application/xml" } });
    assertProblem(res, 415, "unsupported-media-type");
  });

  it("malformed JSON → 400 over the wire", async () => {
    const res = await client.post("/session", { body: "{nope", headers: { "content-type": "application/json" } });
    assertAnyProblem(res, 400);
  });

  it("unknown URL → 404 url-not-found, wrong method → 405 over the wire", async () => {
    assertProblem(await client.get("/definitely/not/here"), 404, "url-not-found");
    assertProblem(await client.call("PUT", "/session"), 405, "method-not-allowed");
  });

  it("a long-polling execute call does not block other requests", async () => {
    const id = await client.newSession();
    const pending = client.exec(id, { mode: "query", runId: "long-poll", code: "spin" });
    const started = Date.now();
    const probe = await client.get("/");
    assert.equal(probe.status, 200);
    assert.ok(Date.now() - started < 1000);
    const first = await pending;
    assert.equal(first.status, "continued");
    assert.equal((await client.interrupt(id)).status, 204);
  });

  it("sessions run in parallel", async () => {
    const [a, b, c] = await Promise.all([client.newSession(), client.newSession(), client.newSession()]);
    const started = Date.now();
    const runs = await Promise.all([a, b, c].map((s) => client.query(s!, "sleep 400; print done")));
    const elapsed = Date.now() - started;
    for (const run of runs) assert.equal(run.stdout, "done\n");
    assert.ok(elapsed < 1100, `three 400 ms runs took ${elapsed} ms`);
  });

  it("an upload over the wire rejects 21 files with 400 Too many files", async () => {
    const id = await client.newSession();
    const form = new FormData();
    for (let i = 0; i < 21; i++) form.append("src", new Blob([`${i}`]), `f${i}.txt`);
    const res = await client.post(`/session/${id}/upload`, { body: form });
    assertProblem(res, 400, "invalid-api-params", { msg: "Too many files" });
    assert.deepEqual(await client.tree(id), []);
  });
});
