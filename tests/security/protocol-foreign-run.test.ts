// execute continue/input with another session's runId, and every route of a deleted
// session: 404s, the other session's run is untouched.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { assertProblem } from "../helpers/client.ts";
import { isolateEnv, type Env } from "./harness.ts";

describe("protocol: foreign runIds and deleted sessions", () => {
  let env: Env;
  before(async () => (env = await isolateEnv()));
  after(() => env?.close());

  it("continue and input with another session's runId are 404, and that run goes on", async () => {
    const owner = await env.session();
    const thief = await env.session();
    const first = await env.client.exec(owner, { mode: "query", runId: "owned-run", code: "const n = prompt('secret? '); console.log('got', n)" });
    assert.equal(first.status, "waiting-input");
    assertProblem(await env.client.execute(thief, { mode: "continue", runId: "owned-run", code: "" }), 404, "object-not-found");
    assertProblem(await env.client.execute(thief, { mode: "input", runId: "owned-run", code: "stolen" }), 404, "object-not-found");
    // The same runId started in the thief's session is its own run.
    const own = await env.client.query(thief, "console.log('mine')", { runId: "owned-run" });
    assert.equal(own.stdout, "mine\n");
    const done = await env.client.exec(owner, { mode: "input", runId: "owned-run", code: "42" });
    let result = done;
    let stdout = result.console.filter(([k]) => k === "stdout").map(([, d]) => d).join("");
    while (result.status !== "finished") {
      result = await env.client.exec(owner, { mode: "continue", runId: "owned-run", code: "" });
      stdout += result.console.filter(([k]) => k === "stdout").map(([, d]) => d).join("");
    }
    assert.match(stdout, /got 42/);
    await env.healthy(thief, "a foreign runId");
  });

  it("every route of a deleted session is a 404, and its name can be taken again", async () => {
    const res = await env.client.createSession({ lang: "javascript", clientSessionToken: "kiln-deleted-one" });
    const id = res.json.sessionId as string;
    const run = await env.client.exec(id, { mode: "query", runId: "r1", code: "await new Promise(r => setTimeout(r, 60000))" });
    assert.equal(run.status, "continued");
    assert.equal((await env.client.destroy(id)).status, 200);
    for (const ref of [id, "kiln-deleted-one"]) {
      const calls = [
        env.client.info(ref),
        env.client.destroy(ref),
        env.client.restart(ref),
        env.client.interrupt(ref),
        env.client.logs(ref),
        env.client.execute(ref, { mode: "continue", runId: "r1", code: "" }),
        env.client.execute(ref, { mode: "query", code: "1" }),
        env.client.upload(ref, [{ filename: "a.txt", data: "x" }]),
        env.client.listFiles(ref),
        env.client.downloadSingle(ref, "a.txt"),
        env.client.get(`/session/${ref}/download`, { query: { files: ["a.txt"] } }),
      ];
      for (const answer of await Promise.all(calls)) assertProblem(answer, 404, "object-not-found");
    }
    const again = await env.client.createSession({ lang: "javascript", clientSessionToken: "kiln-deleted-one" });
    assert.equal(again.status, 201);
    assert.notEqual(again.json.sessionId, id);
    await env.healthy(again.json.sessionId, "requests for a deleted session");
  });
});
