// GET /metrics through the API: the figures follow what sessions, runs, uploads and
// downloads really do. Real isolate sessions where isolated-vm loads (Node); under
// Bun, which cannot load it, the script test kernel plays the same programs.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createApp, type KilnApp } from "../../src/app.ts";
import { isolateKernelFactory } from "../../src/kernels/isolate/index.ts";
import { Client, multipartFormData, parseMixed, uniqueName, type ExecResult } from "../helpers/client.ts";
import { scriptKernelFactory } from "../helpers/script-kernel.ts";
import { serveApp } from "../helpers/serve.ts";
import { scrape } from "./metrics-scrape.ts";

const isolate = isolateKernelFactory();
const K = isolate
  ? { factory: isolate, image: "javascript", print: "console.log('hi')", spin: "while (true) {}", main: "main.js", mainText: "console.log('main')", exec: "node main.js" }
  : { factory: scriptKernelFactory(), image: "script", print: "print hi", spin: "spin", main: "main.script", mainText: "print main", exec: "*" };

const TOKEN = "kiln-metrics-test-token-0001";

describe(`metrics (${K.image} sessions)`, () => {
  let app: KilnApp;
  let client: Client;
  before(() => {
    app = createApp({ kernels: [K.factory], config: { flushIntervalMs: 200 } });
    client = Client.forApp(app);
  });
  after(() => app.close());

  async function session(extra: Record<string, unknown> = {}): Promise<string> {
    const res = await client.createSession({ lang: K.image, clientSessionToken: uniqueName("metrics"), ...extra });
    assert.equal(res.status, 201, res.text);
    return res.json.sessionId as string;
  }

  it("every family has HELP and TYPE, and the served images have a sessions series from the start", async () => {
    const m = await scrape(client);
    for (const [name, type] of [
      ["kiln_sessions", "gauge"],
      ["kiln_runs_total", "counter"],
      ["kiln_run_duration_seconds", "histogram"],
      ["kiln_step_duration_seconds", "histogram"],
      ["kiln_run_queue_depth", "gauge"],
      ["kiln_run_slots_waiting", "gauge"],
      ["kiln_upload_bytes_total", "counter"],
      ["kiln_download_bytes_total", "counter"],
      ["kiln_http_requests_total", "counter"],
      ["kiln_http_request_duration_seconds", "histogram"],
    ]) {
      assert.equal(m.family(name!).type, type, name);
      assert.ok(m.family(name!).help.length > 0, `${name} has help`);
    }
    for (const image of Object.keys(app.catalog.available())) {
      assert.ok(m.family("kiln_sessions").samples.some((s) => s.labels.image === image), `a sessions series for ${image}`);
    }
  });

  it("sessions by image follow creates and deletes", async () => {
    const before = (await scrape(client)).value("kiln_sessions", { image: K.image });
    const a = await session();
    const b = await session();
    assert.equal((await scrape(client)).value("kiln_sessions", { image: K.image }), before + 2);
    await client.destroy(a);
    assert.equal((await scrape(client)).value("kiln_sessions", { image: K.image }), before + 1);
    await client.destroy(b);
    assert.equal((await scrape(client)).value("kiln_sessions", { image: K.image }), before);
  });

  it("a query run counts as finished, with its run and its one step timed", async () => {
    const id = await session();
    const was = await scrape(client);
    const run = await client.query(id, K.print);
    assert.equal(run.final.status, "finished");
    const now = await scrape(client);
    assert.equal(now.value("kiln_runs_total", { image: K.image, status: "finished" }), was.value("kiln_runs_total", { image: K.image, status: "finished" }) + 1);
    const runs = now.histogram("kiln_run_duration_seconds", { image: K.image });
    assert.equal(runs.count, was.histogram("kiln_run_duration_seconds", { image: K.image }).count + 1);
    assert.ok(runs.sum > 0);
    const query = { image: K.image, step: "query" };
    assert.equal(now.histogram("kiln_step_duration_seconds", query).count, was.histogram("kiln_step_duration_seconds", query).count + 1);
    await client.destroy(id);
  });

  it("a batch run times each step that ran (clean, skipped, is not)", async () => {
    const id = await session();
    await client.put(id, { [K.main]: K.mainText });
    const was = await scrape(client);
    const run = await client.batch(id, { build: "", exec: K.exec });
    assert.deepEqual([run.final.status, run.final.exitCode, run.stdout], ["finished", 0, "main\n"]);
    const now = await scrape(client);
    const steps = (step: string) =>
      now.histogram("kiln_step_duration_seconds", { image: K.image, step }).count - was.histogram("kiln_step_duration_seconds", { image: K.image, step }).count;
    assert.deepEqual([steps("clean"), steps("build"), steps("exec")], [0, 0, 1]);
    await client.destroy(id);
  });

  it("a run past its time limit counts as exec-timeout", async () => {
    const id = await session({ config: { limits: { stepTimeoutMs: 500 } } });
    const was = (await scrape(client)).value("kiln_runs_total", { image: K.image, status: "exec-timeout" });
    assert.equal((await client.query(id, K.spin)).final.status, "exec-timeout");
    assert.equal((await scrape(client)).value("kiln_runs_total", { image: K.image, status: "exec-timeout" }), was + 1);
    await client.destroy(id);
  });

  it("a run queued behind another is queue depth; the interrupted one counts as interrupted", async () => {
    const id = await session();
    const was = await scrape(client);
    const spinning = await client.exec(id, { mode: "query", code: K.spin });
    assert.equal(spinning.status, "continued");
    // Answered "continued" at the flush interval: it waits behind the spinning run.
    const queued = await client.exec(id, { mode: "query", code: K.print });
    assert.equal(queued.status, "continued");
    assert.equal((await scrape(client)).value("kiln_run_queue_depth"), was.value("kiln_run_queue_depth") + 1);
    assert.equal((await client.interrupt(id)).status, 204);
    assert.deepEqual(await finish(client, id, spinning), ["finished", 130]);
    assert.deepEqual(await finish(client, id, queued), ["finished", 0]);
    const now = await scrape(client);
    assert.equal(now.value("kiln_run_queue_depth"), was.value("kiln_run_queue_depth"));
    assert.equal(now.value("kiln_runs_total", { image: K.image, status: "interrupted" }), was.value("kiln_runs_total", { image: K.image, status: "interrupted" }) + 1);
    await client.destroy(id);
  });

  it("upload bytes count the upload's body; download bytes what download and download_single sent", async () => {
    const id = await session();
    const files = [
      { filename: "a.txt", data: "a".repeat(1000) },
      { filename: "dir/b.txt", data: "b".repeat(3000) },
    ];
    const { body } = multipartFormData(files);
    const was = await scrape(client);
    assert.equal((await client.upload(id, files)).status, 204);
    const afterUpload = await scrape(client);
    assertBodyCounted(afterUpload.value("kiln_upload_bytes_total") - was.value("kiln_upload_bytes_total"), 4000, body.byteLength);

    const single = await client.downloadSingle(id, "dir/b.txt");
    assert.equal(single.status, 200);
    const tars = await client.get(`/session/${id}/download`, { query: { files: ["a.txt", "dir"] } });
    assert.equal(tars.status, 200);
    assert.equal(parseMixed(tars).length, 2);
    const zip = await client.get(`/session/${id}/download`, { query: { files: "dir", format: "zip" } });
    assert.equal(zip.status, 200);
    const missing = await client.downloadSingle(id, "nope.txt");
    assert.equal(missing.status, 404);
    const afterDownload = await scrape(client);
    const sent = single.bytes.byteLength + tars.bytes.byteLength + zip.bytes.byteLength;
    assert.equal(single.bytes.byteLength, 3000);
    assert.equal(afterDownload.value("kiln_download_bytes_total") - afterUpload.value("kiln_download_bytes_total"), sent);
    await client.destroy(id);
  });

  it("HTTP requests by method, route pattern and status", async () => {
    const was = await scrape(client);
    const id = await session();
    assert.equal((await client.info("no-such-session")).status, 404);
    assert.equal((await client.get("/no/such/route")).status, 404);
    const now = await scrape(client);
    const delta = (labels: Record<string, string>) => now.value("kiln_http_requests_total", labels) - was.value("kiln_http_requests_total", labels);
    assert.equal(delta({ method: "POST", route: "/session", status: "201" }), 1);
    assert.equal(delta({ method: "GET", route: "/session/:id", status: "404" }), 1);
    assert.equal(delta({ method: "GET", route: "unmatched", status: "404" }), 1);
    assert.ok(now.histogram("kiln_http_request_duration_seconds", { method: "POST", route: "/session" }).count >= 1);
    await client.destroy(id);
  });
});

describe("metrics over a real HTTP server, with authentication on", () => {
  let app: KilnApp;
  let server: Awaited<ReturnType<typeof serveApp>>;
  let client: Client;
  const auth = { authorization: `Bearer ${TOKEN}` };
  before(async () => {
    app = createApp({ kernels: [scriptKernelFactory()], config: { auth: "on" }, keys: [{ accessKey: "AKIAKILNMETRICS00001", token: TOKEN }] });
    server = await serveApp(app);
    client = Client.forUrl(server.url);
  });
  after(async () => {
    await server.close();
    await app.close();
  });

  it("GET /metrics needs credentials like the API", async () => {
    assert.equal((await client.get("/metrics")).status, 401);
    await scrape(client, auth);
  });

  it("counts an upload's body as the server reads it from the socket", async () => {
    const created = await client.post("/session", { json: { lang: "script", clientSessionToken: uniqueName("metrics") }, headers: auth });
    assert.equal(created.status, 201, created.text);
    const id = created.json.sessionId as string;
    const files = [{ filename: "big.bin", data: new Uint8Array(256 * 1024).fill(7) }];
    const { body, contentType } = multipartFormData(files);
    const was = (await scrape(client, auth)).value("kiln_upload_bytes_total");
    const res = await client.post(`/session/${id}/upload`, { body, headers: { ...auth, "content-type": contentType } });
    assert.equal(res.status, 204, res.text);
    assertBodyCounted((await scrape(client, auth)).value("kiln_upload_bytes_total") - was, 256 * 1024, body.byteLength);
    assert.equal((await client.call("DELETE", `/session/${id}`, { headers: auth })).status, 200);
  });
});

/** The upload's parser stops reading at the closing boundary, so the body's last bytes may go unread (uncounted). */
function assertBodyCounted(counted: number, fileBytes: number, bodyBytes: number): void {
  assert.ok(counted > fileBytes && counted <= bodyBytes, `${counted} bytes counted; the files have ${fileBytes}, the body ${bodyBytes}`);
}

/** Continues a run to its end; its final status and exit code. */
async function finish(client: Client, id: string, first: ExecResult): Promise<[string, number | null]> {
  let result = first;
  while (result.status !== "finished" && result.status !== "exec-timeout") {
    result = await client.exec(id, { mode: "continue", runId: first.runId });
  }
  return [result.status, result.exitCode];
}
