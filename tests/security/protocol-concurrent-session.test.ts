// 1,000 simultaneous requests for one session (queries, info, listings, uploads and
// downloads): each answers 2xx or a clear 4xx/503 (too many runs), never a 500 or a hang;
// the session and the server serve normally afterwards.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { serveApp, type TestServer } from "../helpers/serve.ts";
import { Client } from "../helpers/client.ts";
import { isolateEnv, within, type Env } from "./harness.ts";

describe("protocol: 1,000 simultaneous requests for one session", () => {
  let env: Env;
  let server: TestServer;
  before(async () => {
    env = await isolateEnv();
    server = await serveApp(env.app);
  });
  after(async () => {
    await server?.close();
    await env?.close();
  });

  it("are all answered without a 5xx other than 503", async () => {
    const id = await env.session();
    const client = Client.forUrl(server.url);
    await client.put(id, { "data.txt": "payload" });
    const calls = Array.from({ length: 1000 }, (_, i) => {
      switch (i % 5) {
        case 0:
          return client.execute(id, { mode: "query", runId: `r${i}`, code: `console.log(${i})` });
        case 1:
          return client.info(id);
        case 2:
          return client.listFiles(id);
        case 3:
          return client.upload(id, [{ filename: `f${i % 50}.txt`, data: String(i) }]);
        default:
          return client.downloadSingle(id, "data.txt");
      }
    });
    const answers = await within(Promise.all(calls), 60_000, "1,000 requests");
    const byStatus = new Map<number, number>();
    for (const res of answers) byStatus.set(res.status, (byStatus.get(res.status) ?? 0) + 1);
    const statuses = [...byStatus.keys()];
    assert.ok(statuses.every((s) => s < 300 || s === 400 || s === 503), `statuses ${JSON.stringify([...byStatus])}`);
    assert.ok((byStatus.get(200) ?? 0) >= 600, `statuses ${JSON.stringify([...byStatus])}`);
    for (const [i, res] of answers.entries()) if (i % 5 === 4) assert.equal(res.text, "payload");
    await env.healthy(id, "1,000 simultaneous requests");
  });
});
