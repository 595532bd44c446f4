// The run caps through the API: a run beyond --max-runs / --max-runs-per-key waits
// for a slot (bounded by --run-queue-size); a full queue answers 503 and leaves the
// session usable; an interrupt frees a waiting run; a slot is held only while a run
// executes.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { authServer, bearer, KEY, OTHER, type AuthServer } from "./harness.ts";

let s: AuthServer;
before(async () => {
  s = await authServer({ config: { maxRuns: 2, maxRunsPerKey: 1, runQueueSize: 1, flushIntervalMs: 100 } });
});
after(() => s.close());

const call = (token: string, method: string, path: string, body?: unknown) => bearer(s.url, token, method, path, body);

async function session(token: string, name: string): Promise<string> {
  const res = await call(token, "POST", "/session", { lang: "script", clientSessionToken: name });
  assert.equal(res.status, 201);
  return ((await res.json()) as { sessionId: string }).sessionId;
}

interface Result {
  runId: string;
  status: string;
  exitCode: number | null;
  console: [string, string][];
}

async function execute(token: string, id: string, body: Record<string, unknown>): Promise<{ status: number; result?: Result; type?: string }> {
  const res = await call(token, "POST", `/session/${id}`, body);
  const json = (await res.json()) as { result?: Result; type?: string };
  return { status: res.status, ...json };
}

/** Reads a run to its end with `continue`. */
async function finish(token: string, id: string, first: Result): Promise<Result> {
  let r = first;
  while (r.status !== "finished" && r.status !== "exec-timeout") {
    const next = await execute(token, id, { mode: "continue", runId: r.runId, code: "" });
    assert.equal(next.status, 200);
    r = next.result!;
  }
  return r;
}

describe("run caps", () => {
  it("a key's second run waits for its first, a full queue is a 503 that changes nothing, and the waiting run then runs", async () => {
    const a1 = await session(KEY.token!, "caps-a1");
    const a2 = await session(KEY.token!, "caps-a2");
    const a3 = await session(KEY.token!, "caps-a3");
    // a1 holds the key's only slot until it is interrupted.
    const spinning = await execute(KEY.token!, a1, { mode: "query", runId: "spin-1", code: "spin" });
    assert.equal(spinning.result?.status, "continued");
    // a2's run waits for that slot: it is still "continued" with no output after a flush.
    const waiting = await execute(KEY.token!, a2, { mode: "query", runId: "wait-1", code: "print ran" });
    assert.deepEqual([waiting.status, waiting.result?.status, waiting.result?.console], [200, "continued", []]);
    // The queue (1) is full: a3's run is refused with a 503 problem.
    const refused = await execute(KEY.token!, a3, { mode: "query", runId: "refused-1", code: "print never" });
    assert.equal(refused.status, 503);
    assert.equal(refused.type, "https://api.backend.ai/probs/service-unavailable");
    // Another key is not held up by this key's cap (one server-wide slot is left).
    const b = await session(OTHER.token!, "caps-b");
    const other = await execute(OTHER.token!, b, { mode: "query", runId: "other-1", code: "print other" });
    assert.deepEqual((await finish(OTHER.token!, b, other.result!)).console, [["stdout", "other\n"]]);
    // Freeing the slot lets the waiting run run; the refused session is usable again.
    assert.equal((await call(KEY.token!, "POST", `/session/${a1}/interrupt`)).status, 204);
    const done = await finish(KEY.token!, a2, waiting.result!);
    assert.deepEqual([done.exitCode, done.console], [0, [["stdout", "ran\n"]]]);
    const again = await execute(KEY.token!, a3, { mode: "query", runId: "again-1", code: "print fine" });
    assert.deepEqual((await finish(KEY.token!, a3, again.result!)).console, [["stdout", "fine\n"]]);
    for (const id of [a1, a2, a3]) await call(KEY.token!, "DELETE", `/session/${id}`);
    await call(OTHER.token!, "DELETE", `/session/${b}`);
  });

  it("interrupting a run that waits for a slot ends it at once, without running it", async () => {
    const a1 = await session(KEY.token!, "caps-i1");
    const a2 = await session(KEY.token!, "caps-i2");
    await execute(KEY.token!, a1, { mode: "query", runId: "spin-2", code: "spin" });
    const waiting = await execute(KEY.token!, a2, { mode: "query", runId: "wait-2", code: "print never" });
    assert.equal(waiting.result?.status, "continued");
    assert.equal((await call(KEY.token!, "POST", `/session/${a2}/interrupt`)).status, 204);
    const ended = await finish(KEY.token!, a2, waiting.result!);
    assert.deepEqual([ended.exitCode, ended.console], [130, []]);
    await call(KEY.token!, "POST", `/session/${a1}/interrupt`);
    for (const id of [a1, a2]) await call(KEY.token!, "DELETE", `/session/${id}`);
  });
});
