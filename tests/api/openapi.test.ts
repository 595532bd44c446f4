// GET /openapi.json and GET /docs: the document is valid OpenAPI 3.1, lists every
// route the app serves, judges request bodies as the API does, and describes the
// answers the API really gives.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { validate } from "@readme/openapi-parser";
import { Ajv2020 } from "ajv/dist/2020.js";
import { createApp, type KilnApp } from "../../src/app.ts";
import { Client, makeEnv, multipartFormData, uniqueName, type ApiResponse, type TestEnv } from "../helpers/client.ts";
import { scriptKernelFactory } from "../helpers/script-kernel.ts";

type Doc = any;

const ajv = new Ajv2020({ strictTypes: false, strictTuples: false, validateFormats: false, allErrors: true });

async function documentOf(app: KilnApp): Promise<Doc> {
  const res = await app.fetch(new Request("http://kiln/openapi.json"));
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  return res.json();
}

function operation(doc: Doc, method: string, path: string): Doc {
  const op = doc.paths[path]?.[method.toLowerCase()];
  assert.ok(op, `${method} ${path} is not in the document`);
  return op;
}

/** The document lists the answer's status for the operation, and its JSON body fits the documented schema. */
function assertDocumented(doc: Doc, method: string, path: string, res: ApiResponse): void {
  const reply = operation(doc, method, path).responses[String(res.status)];
  assert.ok(reply, `${method} ${path} answered ${res.status}, which the document does not list: ${res.text.slice(0, 200)}`);
  if (res.status === 204) return;
  const media = res.contentType.split(";")[0]!.trim();
  const schema = reply.content?.[media]?.schema;
  assert.ok(schema, `${method} ${path} ${res.status}: no schema for ${media}`);
  if (!media.endsWith("json")) return;
  const resolved = schema.$ref === "#/components/schemas/Problem" ? doc.components.schemas.Problem : schema;
  assert.ok(ajv.validate(resolved, res.json), `${method} ${path} ${res.status}: ${ajv.errorsText()}\n${res.text.slice(0, 500)}`);
}

function requestSchema(doc: Doc, method: string, path: string): Doc {
  return operation(doc, method, path).requestBody.content["application/json"].schema;
}

describe("GET /openapi.json", () => {
  let env: TestEnv;
  let client: Client;
  let doc: Doc;
  before(async () => {
    env = await makeEnv({ config: { flushIntervalMs: 100 } });
    client = env.client;
    doc = await documentOf(env.app);
  });
  after(() => env.close());

  it("lists every route the app serves, and no other", () => {
    const served = env.app.routes.filter((r) => r.method !== "ALL").map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`);
    const documented = Object.entries(doc.paths as Record<string, object>).flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`));
    assert.deepEqual([...new Set(documented)].sort(), [...new Set(served)].sort());
    assert.equal(documented.length, new Set(documented).size);
  });

  it("is a valid OpenAPI 3.1 document, with authentication off and on", async () => {
    assert.equal(doc.openapi, "3.1.0");
    const off = await validate(structuredClone(doc));
    assert.ok(off.valid, JSON.stringify(off));
    const app = createApp({ kernels: [scriptKernelFactory()], config: { auth: "on" }, keys: [{ accessKey: "AKIAKILNOPENAPI00001", token: "kiln-openapi-token-0001" }] });
    try {
      const on = await validate(structuredClone(await documentOf(app)));
      assert.ok(on.valid, JSON.stringify(on));
    } finally {
      await app.close();
    }
  });

  it("every operation has a summary, a tag and its problems as problem+json of the one Problem schema", () => {
    const problem = doc.components.schemas.Problem;
    assert.deepEqual(problem.required, ["type", "title"]);
    assert.ok(problem.properties.type.enum.includes("https://api.backend.ai/probs/invalid-api-params"));
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, Doc>>)) {
      for (const [method, op] of Object.entries(item)) {
        assert.ok(op.summary && op.tags?.length === 1, `${method} ${path}: summary and tag`);
        for (const [status, reply] of Object.entries(op.responses as Record<string, Doc>)) {
          // /healthz answers 503 with its own JSON body, by design.
          if (Number(status) < 400 || (path === "/healthz" && status === "503")) continue;
          assert.deepEqual(reply.content, { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } }, `${method} ${path} ${status}`);
        }
      }
    }
  });

  it("the request schemas are the ones that validate: the document and the API judge bodies alike", async () => {
    const id = await client.newSession();
    const create = requestSchema(doc, "POST", "/session");
    const execute = requestSchema(doc, "POST", "/session/{id}");
    const download = requestSchema(doc, "POST", "/session/{id}/download");
    const name = () => ({ lang: "script", clientSessionToken: uniqueName("doc") });
    const cases: [schema: Doc, path: string, body: Record<string, unknown>, valid: boolean][] = [
      [create, "/session", name(), true],
      [create, "/session", { ...name(), group: "default", type: "interactive" }, true],
      [create, "/session", { ...name(), config: { resources: { mem: "256m", cpu: 1 }, environ: { A_B: "x" } } }, true],
      [create, "/session", { lang: "script", clientSessionToken: "ab" }, false],
      [create, "/session", { ...name(), config: { limits: { stepTimeoutMs: 1000, stepTimeout: 5 } } }, false],
      [create, "/session", { ...name(), config: { limits: { stepTimeoutMs: 0 } } }, false],
      [create, "/session", { ...name(), config: { environ: { "1ABC": "x" } } }, false],
      [create, "/session", { ...name(), reuseIfExists: "yes" }, false],
      [create, "/session", { ...name(), tag: 5 }, false],
      [create, "/session", { ...name(), lang: "bad image!" }, false],
      [execute, `/session/${id}`, { mode: "query", code: "print hi" }, true],
      [execute, `/session/${id}`, { mode: "batch", options: { exec: "*", extra: true }, runId: "doc-run.1" }, true],
      [execute, `/session/${id}`, { mode: "run", code: "print hi" }, false],
      [execute, `/session/${id}`, { code: "print hi" }, false],
      [execute, `/session/${id}`, { mode: "query", runId: "not a run id" }, false],
      [execute, `/session/${id}`, { mode: "query", code: 5 }, false],
      [execute, `/session/${id}`, { mode: "batch", options: { exec: 5 } }, false],
      [download, `/session/${id}/download`, { files: ["missing.txt"] }, true],
      [download, `/session/${id}/download`, { files: "missing.txt", format: "zip" }, true],
      [download, `/session/${id}/download`, { files: ["a"], format: "rar" }, false],
      [download, `/session/${id}/download`, { format: "tar" }, false],
    ];
    for (const [schema, path, body, valid] of cases) {
      const res = await client.post(path, { json: body });
      const refused = res.status === 400 && res.json?.type === "https://api.backend.ai/probs/invalid-api-params";
      assert.equal(!refused, valid, `the API ${refused ? "refused" : "accepted"} ${JSON.stringify(body)}: ${res.status} ${res.text.slice(0, 200)}`);
      assert.equal(ajv.validate(schema, body), valid, `the document ${valid ? "refused" : "accepted"} ${JSON.stringify(body)}: ${ajv.errorsText()}`);
    }
  });

  it("query parameters come from the same schemas", () => {
    const params = operation(doc, "GET", "/session/{id}/download").parameters as Doc[];
    assert.deepEqual(
      params.map((p) => [p.name, p.in, p.required]),
      [
        ["id", "path", true],
        ["files", "query", true],
        ["format", "query", false],
      ],
    );
    assert.deepEqual(params.find((p) => p.name === "format").schema.enum, ["tar", "zip"]);
    const files = operation(doc, "GET", "/session/{id}/files").parameters as Doc[];
    assert.deepEqual(files.find((p) => p.name === "path").schema.default, "/home/work");
  });

  it("describes the answers the API really gives", async () => {
    const seen = (method: string, path: string, res: ApiResponse) => assertDocumented(doc, method, path, res);
    seen("GET", "/", await client.get("/"));
    seen("GET", "/healthz", await client.get("/healthz"));
    const name = uniqueName("doc");
    const created = await client.createSession({ lang: "script", clientSessionToken: name, tag: "docs" });
    seen("POST", "/session", created);
    seen("POST", "/session/_/create", await client.createSession({ lang: "script", clientSessionToken: name }, "/session/_/create"));
    const id = created.json.sessionId as string;
    seen("GET", "/sessions", await client.get("/sessions", { query: { tag: "docs" } }));
    seen("GET", "/session/{id}", await client.info(id));
    seen("POST", "/session/{id}", await client.execute(id, { mode: "query", code: "print hi; html <b>x</b>; media image/png AAAA" }));
    const batch = await client.execute(id, { mode: "batch", options: { clean: "print c", exec: "print e" } });
    seen("POST", "/session/{id}", batch);
    seen("POST", "/session/{id}", await client.execute(id, { mode: "continue", runId: batch.json.result.runId }));
    seen("POST", "/session/{id}", await client.execute(id, { mode: "query", code: "input name?" }));
    seen("POST", "/session/{id}", await client.execute(id, { mode: "complete", code: "pr" }));
    seen("POST", "/session/{id}/complete", await client.post(`/session/${id}/complete`, { json: { code: "pr" } }));
    seen("POST", "/session/{id}/interrupt", await client.interrupt(id));
    seen("GET", "/session/{id}/logs", await client.logs(id));
    const { body, contentType } = multipartFormData([{ filename: "dir/a.txt", data: "a" }]);
    seen("POST", "/session/{id}/upload", await client.post(`/session/${id}/upload`, { body, headers: { "content-type": contentType } }));
    seen("GET", "/session/{id}/files", await client.listFiles(id, "dir"));
    seen("GET", "/session/{id}/download", await client.get(`/session/${id}/download`, { query: { files: "dir" } }));
    seen("POST", "/session/{id}/download", await client.post(`/session/${id}/download`, { json: { files: ["dir"], format: "zip" } }));
    seen("GET", "/session/{id}/download_single", await client.downloadSingle(id, "dir/a.txt"));
    seen("POST", "/session/{id}/download_single", await client.post(`/session/${id}/download_single`, { json: { file: "dir/a.txt" } }));
    seen("PATCH", "/session/{id}", await client.restart(id));
    seen("GET", "/metrics", await client.get("/metrics"));
    // Problems: each status the route documents, in the one Problem shape.
    seen("POST", "/session", await client.createSession({ lang: "script", clientSessionToken: name, reuseIfExists: false }));
    seen("POST", "/session", await client.createSession({ lang: "cobol", clientSessionToken: uniqueName("doc") }));
    seen("POST", "/session", await client.post("/session", { body: "x", headers: { "content-type": "text/csv" } }));
    seen("POST", "/session/{id}", await client.execute(id, { mode: "continue", runId: "no-such-run" }));
    seen("GET", "/session/{id}/download_single", await client.downloadSingle(id, "dir"));
    seen("DELETE", "/session/{id}", await client.destroy(id));
    seen("GET", "/session/{id}", await client.info(id));
  });
});

describe("the document with authentication on, and the public routes", () => {
  let app: KilnApp;
  let doc: Doc;
  before(async () => {
    app = createApp({ kernels: [scriptKernelFactory()], config: { auth: "on" }, keys: [{ accessKey: "AKIAKILNOPENAPI00001", token: "kiln-openapi-token-0001" }] });
    doc = await documentOf(app);
  });
  after(() => app.close());

  it("says how to authenticate, and which routes need it", () => {
    assert.deepEqual(Object.keys(doc.components.securitySchemes).sort(), ["backendai", "bearer"]);
    const guarded = operation(doc, "GET", "/session/{id}");
    assert.deepEqual(guarded.security, [{ bearer: [] }, { backendai: [] }]);
    assert.ok(guarded.responses["401"] && guarded.responses["429"]);
    assert.ok(operation(doc, "GET", "/metrics").security);
    for (const path of ["/", "/healthz", "/openapi.json", "/docs"]) {
      const op = operation(doc, "GET", path);
      assert.equal(op.security, undefined, path);
      assert.equal(op.responses["401"], undefined, path);
    }
  });

  it("/docs, /openapi.json and /healthz answer without credentials; the API does not", async () => {
    const client = Client.forApp(app);
    for (const path of ["/docs", "/openapi.json", "/healthz"]) assert.equal((await client.get(path)).status, 200, path);
    assert.equal((await client.get("/sessions")).status, 401);
  });

  it("GET /docs is Scalar's reference page reading /openapi.json", async () => {
    const res = await Client.forApp(app).get("/docs");
    assert.match(res.contentType, /^text\/html/);
    assert.match(res.text, /"url":\s*"\/openapi\.json"/);
    assert.match(res.text, /<script src="https:\/\/cdn\.jsdelivr\.net\/npm\/@scalar\/api-reference">/);
  });

  it("without authentication the document has no security at all", async () => {
    const env = await makeEnv();
    try {
      const open = await documentOf(env.app);
      assert.equal(open.components.securitySchemes, undefined);
      assert.equal(operation(open, "GET", "/session/{id}").security, undefined);
      assert.equal(operation(open, "GET", "/session/{id}").responses["401"], undefined);
    } finally {
      await env.close();
    }
  });
});
