// Protocol-level errors: problem+json format, unknown URLs, wrong methods,
// malformed / oversized / mistyped bodies, and requests for a deleted session.
// A client mistake is always a 4xx, never a 500.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { assertAnyProblem, assertProblem, makeEnv, readResponse, type Client, type TestEnv } from "../helpers/client.ts";

describe("errors: routing", () => {
  let env: TestEnv;
  let client: Client;
  let id: string;
  before(async () => {
    env = await makeEnv();
    client = env.client;
    id = await client.newSession();
  });
  after(() => env.close());

  for (const [method, path] of [
    ["GET", "/nope"],
    ["POST", "/nope/deeper"],
    ["GET", "/v8/session"],
    ["GET", "/kernel/create"],
    ["GET", "/session/SESSION/nope"],
    ["POST", "/session/SESSION/upload/extra"],
  ] as const) {
    it(`${method} ${path} → 404 url-not-found`, async () => {
      const res = await client.call(method, path.replace("SESSION", id));
      assertProblem(res, 404, "url-not-found");
    });
  }

  for (const [method, path] of [
    ["PUT", "/session"],
    ["DELETE", "/session"],
    ["POST", "/"],
    ["DELETE", "/"],
    ["PUT", "/session/SESSION"],
    ["GET", "/session/SESSION/upload"],
    ["GET", "/session/SESSION/interrupt"],
    ["DELETE", "/session/SESSION/files"],
    ["PUT", "/session/SESSION/download"],
    ["POST", "/session/SESSION/logs"],
    ["GET", "/session/_/create"],
  ] as const) {
    it(`${method} ${path} → 405 method-not-allowed`, async () => {
      const res = await client.call(method, path.replace("SESSION", id));
      assertProblem(res, 405, "method-not-allowed");
    });
  }

  it("problem bodies carry type, title and a problem+json content type", async () => {
    const res = await client.get("/nope");
    assert.equal(res.contentType.split(";")[0], "application/problem+json");
    assert.equal(res.json.type, "https://api.backend.ai/probs/url-not-found");
    assert.equal(typeof res.json.title, "string");
    assert.ok(res.json.title.length > 0);
  });
});

describe("errors: request bodies", () => {
  let env: TestEnv;
  let client: Client;
  let id: string;
  const limit = 2048;
  before(async () => {
    env = await makeEnv({ config: { bodyLimitBytes: limit } });
    client = env.client;
    id = await client.newSession();
  });
  after(() => env.close());

  const jsonRoutes = (): [string, string][] => [
    ["POST", "/session"],
    ["POST", `/session/${id}`],
    ["POST", `/session/${id}/download`],
  ];

  it("malformed JSON → 400 on every JSON route", async () => {
    for (const [method, path] of jsonRoutes()) {
      const res = await client.call(method, path, { body: '{"lang": "script", ', headers: { "content-type": "application/json" } });
      assertAnyProblem(res, 400);
    }
  });

  it("a JSON body that is not an object → 400", async () => {
    for (const body of ["[]", "null", '"text"', "42", "true"]) {
      for (const [method, path] of jsonRoutes()) {
        const res = await client.call(method, path, { body, headers: { "content-type": "application/json" } });
        assertAnyProblem(res, 400);
      }
    }
  });

  it("an empty JSON body on create → 400 invalid-api-params", async () => {
    const res = await client.call("POST", "/session", { body: "", headers: { "content-type": "application/json" } });
    assertAnyProblem(res, 400);
  });

  it("a JSON body over bodyLimitBytes → 413 payload-too-large", async () => {
    const big = { lang: "script", clientSessionToken: "too-big-body", padding: "x".repeat(limit * 4) };
    assertProblem(await client.post("/session", { json: big }), 413, "payload-too-large");
    const code = "print " + "y".repeat(limit * 4);
    assertProblem(await client.execute(id, { mode: "query", runId: null, code }), 413, "payload-too-large");
    // The session was not created, and the existing one still works.
    assertProblem(await client.info("too-big-body"), 404, "object-not-found");
    assert.equal((await client.query(id, "print ok")).stdout, "ok\n");
  });

  it("an oversized body without content-length (streamed) → 413 payload-too-large", async () => {
    const chunk = new TextEncoder().encode('{"padding": "' + "z".repeat(1000));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 20) controller.enqueue(chunk);
        else {
          controller.enqueue(new TextEncoder().encode('"}'));
          controller.close();
        }
      },
    });
    // duplex is required by Node for streamed request bodies.
    const init = { method: "POST", headers: { "content-type": "application/json" }, body: stream, duplex: "half" };
    const request = new Request(client.url("/session"), init as RequestInit);
    const res = await readResponse(await client.fetcher(request));
    assertProblem(res, 413, "payload-too-large");
  });

  it("a body just under the limit is fine", async () => {
    const body = { lang: "script", clientSessionToken: "under-limit", config: { environ: { PAD: "t".repeat(limit - 200) } } };
    const res = await client.post("/session", { json: body });
    assert.equal(res.status, 201, res.text.slice(0, 300));
  });

  it("the JSON limit does not apply to uploads", async () => {
    const res = await client.upload(id, [{ filename: "bigger-than-json-limit.bin", data: new Uint8Array(limit * 10) }]);
    assert.equal(res.status, 204, res.text);
  });

  it("content-type application/xml on a JSON route → 415 unsupported-media-type", async () => {
    for (const [method, path] of jsonRoutes()) {
      const res = await client.call(method, path, {
        body: "<session><lang>script</lang></session>",
        headers: { "content-type": "application/xml" },
      });
      assertProblem(res, 415, "unsupported-media-type");
    }
  });

  it("application/json with a charset parameter is accepted", async () => {
    const res = await client.post("/session", {
      body: JSON.stringify({ lang: "script", clientSessionToken: "charset-json" }),
      headers: { "content-type": "application/json; charset=utf-8" },
    });
    assert.equal(res.status, 201, res.text);
  });

  it("wrong field types are 400 invalid-api-params naming the field, never 500", async () => {
    const cases: [string, string, unknown, RegExp][] = [
      ["POST", "/session", { lang: ["script"], clientSessionToken: "typed-1" }, /lang|image/],
      ["POST", "/session", { lang: "script", clientSessionToken: "typed-2", config: "big" }, /config/],
      ["POST", "/session", { lang: "script", clientSessionToken: "typed-3", reuseIfExists: "yes" }, /reuseIfExists/],
      ["POST", `/session/${id}`, { mode: 1, runId: null, code: "" }, /mode/],
      ["POST", `/session/${id}`, { mode: "query", runId: 5, code: "" }, /runId|run_id/],
      ["POST", `/session/${id}`, { mode: "query", runId: null, code: "", options: 7 }, /options/],
    ];
    for (const [method, path, body, field] of cases) {
      const res = await client.call(method, path, { json: body });
      assertProblem(res, 400, "invalid-api-params", { msg: field });
    }
  });
});

describe("errors: a deleted session", () => {
  let env: TestEnv;
  let client: Client;
  let id: string;
  const name = "deleted-session";
  before(async () => {
    env = await makeEnv();
    client = env.client;
    const res = await client.createSession({ lang: "script", clientSessionToken: name });
    id = res.json.sessionId;
    await client.put(id, { "a.txt": "a" });
    assert.equal((await client.destroy(id)).status, 200);
  });
  after(() => env.close());

  for (const ref of ["id", "name"] as const) {
    it(`every session route → 404 object-not-found (by ${ref})`, async () => {
      const s = ref === "id" ? id : name;
      const calls: [string, Promise<Awaited<ReturnType<Client["call"]>>>][] = [
        ["info", client.info(s)],
        ["delete", client.destroy(s)],
        ["restart", client.restart(s)],
        ["interrupt", client.interrupt(s)],
        ["logs", client.logs(s)],
        ["execute", client.execute(s, { mode: "query", runId: null, code: "print x" })],
        ["continue", client.execute(s, { mode: "continue", runId: "r", code: "" })],
        ["upload", client.upload(s, [{ filename: "b.txt", data: "b" }])],
        ["files", client.listFiles(s)],
        ["download", client.post(`/session/${s}/download`, { json: { files: ["a.txt"] } })],
        ["download GET", client.get(`/session/${s}/download`, { query: { files: "a.txt" } })],
        ["download_single", client.downloadSingle(s, "a.txt")],
      ];
      for (const [what, pending] of calls) {
        const res = await pending;
        assert.equal(res.status, 404, `${what}: ${res.status} ${res.text}`);
        assertProblem(res, 404, "object-not-found", { title: "No such session." });
      }
    });
  }
});
