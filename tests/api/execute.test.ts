// Execute (POST /session/:id): query and batch modes, the flush / continue loop,
// FIFO runs, input, timeouts, the console cap, rich items, completion, and errors.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { assertProblem, makeEnv, stdoutOf, type Client, type ExecResult, type TestEnv } from "../helpers/client.ts";

const HEX32 = /^[0-9a-f]{32}$/;

describe("execute: query mode", () => {
  let env: TestEnv;
  let client: Client;
  let id: string;
  before(async () => {
    env = await makeEnv({ config: { flushIntervalMs: 100 } });
    client = env.client;
    id = await client.newSession();
  });
  after(() => env.close());

  it("answers {result: {runId, status, exitCode, options, files, console}}", async () => {
    const res = await client.execute(id, { mode: "query", runId: null, code: "print hello", options: {} });
    assert.equal(res.status, 200, res.text);
    assert.match(res.contentType, /^application\/json/);
    const r = res.json.result;
    assert.deepEqual(Object.keys(r).sort(), ["console", "exitCode", "files", "options", "runId", "status"]);
    assert.equal(r.status, "finished");
    assert.equal(r.exitCode, 0);
    assert.deepEqual(r.files, []);
    assert.deepEqual(r.console, [["stdout", "hello\n"]]);
  });

  it("runId null → the server assigns a 32-hex id", async () => {
    const r = await client.exec(id, { mode: "query", runId: null, code: "print a" });
    assert.match(r.runId, HEX32);
  });

  it("runId absent → the server assigns a 32-hex id", async () => {
    const r = await client.exec(id, { mode: "query", code: "print a" });
    assert.match(r.runId, HEX32);
  });

  it("two runs get different ids", async () => {
    const a = await client.exec(id, { mode: "query", runId: null, code: "" });
    const b = await client.exec(id, { mode: "query", runId: null, code: "" });
    assert.notEqual(a.runId, b.runId);
  });

  it("echoes a client runId", async () => {
    const r = await client.exec(id, { mode: "query", runId: "client-run-1", code: "print a" });
    assert.equal(r.runId, "client-run-1");
    assert.equal(r.status, "finished");
  });

  it("accepts run_id as an alias and answers runId", async () => {
    const res = await client.execute(id, { mode: "query", run_id: "snake-run-1", code: "print a" });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.result.runId, "snake-run-1");
    assert.equal(res.json.result.status, "finished");
  });

  it("the exit code is the script's (exit 3 → 3)", async () => {
    const r = await client.exec(id, { mode: "query", runId: null, code: "print before; exit 3; print after" });
    assert.equal(r.status, "finished");
    assert.equal(r.exitCode, 3);
    assert.deepEqual(r.console, [["stdout", "before\n"]]);
  });

  it("empty code finishes with exitCode 0 and no console", async () => {
    const r = await client.exec(id, { mode: "query", runId: null, code: "" });
    assert.equal(r.status, "finished");
    assert.equal(r.exitCode, 0);
    assert.deepEqual(r.console, []);
  });

  it("an unknown command exits 127 with stderr", async () => {
    const r = await client.exec(id, { mode: "query", runId: null, code: "frobnicate" });
    assert.equal(r.status, "finished");
    assert.equal(r.exitCode, 127);
    assert.deepEqual(r.console, [["stderr", "frobnicate: unsupported command\n"]]);
  });

  it("merges consecutive chunks of one stream and keeps the order across streams", async () => {
    const r = await client.exec(id, {
      mode: "query",
      runId: null,
      code: "print a; print b; eprint c; eprint d; print e; chunk f; chunk g",
    });
    assert.equal(r.status, "finished");
    assert.deepEqual(r.console, [
      ["stdout", "a\nb\n"],
      ["stderr", "c\nd\n"],
      ["stdout", "e\nfg"],
    ]);
  });

  it("html and media items", async () => {
    const r = await client.exec(id, {
      mode: "query",
      runId: null,
      code: "print x; html <b>bold</b>; media image/svg+xml <svg></svg>; print y",
    });
    assert.equal(r.status, "finished");
    assert.deepEqual(r.console, [
      ["stdout", "x\n"],
      ["html", "<b>bold</b>"],
      ["media", ["image/svg+xml", "<svg></svg>"]],
      ["stdout", "y\n"],
    ]);
  });

  it("keeps non-ASCII text intact", async () => {
    const r = await client.exec(id, { mode: "query", runId: null, code: "print héllo wörld ✓ 日本" });
    assert.deepEqual(r.console, [["stdout", "héllo wörld ✓ 日本\n"]]);
  });

  it("query state persists across runs", async () => {
    await client.query(id, "set color blue");
    const run = await client.query(id, "get color");
    assert.equal(run.stdout, "blue\n");
  });

  it("a file written by one run is read by the next", async () => {
    await client.query(id, "write notes/n.txt some text");
    const run = await client.query(id, "cat notes/n.txt");
    assert.equal(run.stdout, "some text");
  });
});

describe("execute: batch mode", () => {
  let env: TestEnv;
  let client: Client;
  before(async () => {
    env = await makeEnv({ config: { flushIntervalMs: 100 } });
    client = env.client;
  });
  after(() => env.close());

  it("answers clean-finished, build-finished, finished, each with its step's output and exitCode", async () => {
    const id = await client.newSession();
    const run = await client.batch(id, { clean: "print cleaning", build: "print building", exec: "print running; exit 4" });
    assert.deepEqual(run.statuses, ["clean-finished", "build-finished", "finished"]);
    const [clean, build, exec] = run.results as [ExecResult, ExecResult, ExecResult];
    assert.equal(clean.exitCode, 0);
    assert.deepEqual(clean.console, [["stdout", "cleaning\n"]]);
    assert.equal(build.exitCode, 0);
    assert.deepEqual(build.console, [["stdout", "building\n"]]);
    assert.equal(exec.exitCode, 4);
    assert.deepEqual(exec.console, [["stdout", "running\n"]]);
    for (const r of run.results) assert.equal(r.runId, run.runId);
  });

  it("the first call's answer is clean-finished", async () => {
    const id = await client.newSession();
    const r = await client.exec(id, { mode: "batch", runId: null, code: "", options: { clean: "", build: "", exec: "print e" } });
    assert.equal(r.status, "clean-finished");
    assert.equal(r.exitCode, 0);
    assert.match(r.runId, HEX32);
    // drain
    let next = r;
    while (next.status !== "finished") next = await client.exec(id, { mode: "continue", runId: r.runId, code: "" });
  });

  it("empty and absent steps still report, with exitCode 0", async () => {
    const id = await client.newSession();
    const run = await client.batch(id, { exec: "print only-exec" });
    assert.deepEqual(run.statuses, ["clean-finished", "build-finished", "finished"]);
    assert.deepEqual(
      run.results.map((r) => r.exitCode),
      [0, 0, 0],
    );
    assert.equal(run.stdout, "only-exec\n");
  });

  it("options {} (nothing to do) → three results, all exitCode 0", async () => {
    const id = await client.newSession();
    const run = await client.batch(id, {});
    assert.deepEqual(run.statuses, ["clean-finished", "build-finished", "finished"]);
    assert.deepEqual(
      run.results.map((r) => r.exitCode),
      [0, 0, 0],
    );
  });

  it("null steps are skipped like empty ones", async () => {
    const id = await client.newSession();
    const run = await client.batch(id, { clean: null, build: null, exec: "print e" });
    assert.deepEqual(run.statuses, ["clean-finished", "build-finished", "finished"]);
    assert.deepEqual(
      run.results.map((r) => r.exitCode),
      [0, 0, 0],
    );
  });

  it("a failed build → build-finished with its exitCode, then finished 127 without running exec", async () => {
    const id = await client.newSession();
    const run = await client.batch(id, { build: "eprint compile error; exit 2", exec: "print should-not-run" });
    assert.deepEqual(run.statuses, ["clean-finished", "build-finished", "finished"]);
    assert.equal(run.results[1]!.exitCode, 2);
    assert.equal(run.final.exitCode, 127);
    assert.ok(!run.stdout.includes("should-not-run"), run.stdout);
    assert.ok(run.stderr.includes("compile error"));
  });

  it('"*" runs the kernel defaults (main.script)', async () => {
    const id = await client.newSession();
    await client.query(id, "write main.script print from main");
    const run = await client.batch(id, { clean: "*", build: "*", exec: "*" });
    assert.deepEqual(run.statuses, ["clean-finished", "build-finished", "finished"]);
    assert.equal(run.final.exitCode, 0);
    assert.equal(run.stdout, "from main\n");
  });

  it('exec "*" with no main.script → finished 127', async () => {
    const id = await client.newSession();
    const run = await client.batch(id, { build: "*", exec: "*" });
    assert.equal(run.final.status, "finished");
    assert.equal(run.final.exitCode, 127);
  });

  it("a step longer than the flush interval answers continued, and the loop reaches the end", async () => {
    const id = await client.newSession();
    const run = await client.batch(id, { build: "print b1; sleep 350; print b2", exec: "print e" });
    assert.ok(run.statuses.includes("continued"), run.statuses.join(","));
    assert.equal(run.statuses.filter((s) => s === "build-finished").length, 1);
    assert.equal(run.final.status, "finished");
    assert.equal(run.stdout, "b1\nb2\ne\n");
    for (const r of run.results.filter((r) => r.status === "continued")) assert.equal(r.exitCode, null);
  });

  it("accepts run_id in batch mode", async () => {
    const id = await client.newSession();
    const res = await client.execute(id, { mode: "batch", run_id: "batch-snake", code: "", options: { exec: "print x" } });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.result.runId, "batch-snake");
    let r = res.json.result as ExecResult;
    while (r.status !== "finished") r = await client.exec(id, { mode: "continue", run_id: "batch-snake", code: "" });
    assert.equal(stdoutOf(r), "x\n");
  });
});

describe("execute: flush and continue", () => {
  let env: TestEnv;
  let client: Client;
  before(async () => {
    env = await makeEnv({ config: { flushIntervalMs: 100 } });
    client = env.client;
  });
  after(() => env.close());

  it("a slow query answers continued with exitCode null and the output so far; continue gets the rest", async () => {
    const id = await client.newSession();
    const first = await client.exec(id, { mode: "query", runId: null, code: "print a; sleep 400; print b" });
    assert.equal(first.status, "continued");
    assert.equal(first.exitCode, null);
    assert.deepEqual(first.console, [["stdout", "a\n"]]);
    const results = [first];
    let r = first;
    while (r.status !== "finished") {
      r = await client.exec(id, { mode: "continue", runId: first.runId, code: "" });
      assert.equal(r.runId, first.runId);
      results.push(r);
    }
    assert.equal(r.exitCode, 0);
    assert.equal(results.map(stdoutOf).join(""), "a\nb\n");
  });

  it("continue with an unknown runId → 404 object-not-found, No such run.", async () => {
    const id = await client.newSession();
    const res = await client.execute(id, { mode: "continue", runId: "no-such-run", code: "" });
    assertProblem(res, 404, "object-not-found", { title: "No such run." });
  });

  it("continue on a finished run → 404 object-not-found", async () => {
    const id = await client.newSession();
    const r = await client.exec(id, { mode: "query", runId: "done-run", code: "print x" });
    assert.equal(r.status, "finished");
    const res = await client.execute(id, { mode: "continue", runId: "done-run", code: "" });
    assertProblem(res, 404, "object-not-found", { title: "No such run." });
  });

  it("continue without runId → 400 invalid-api-params", async () => {
    const id = await client.newSession();
    assertProblem(await client.execute(id, { mode: "continue", code: "" }), 400, "invalid-api-params");
    assertProblem(await client.execute(id, { mode: "continue", runId: null, code: "" }), 400, "invalid-api-params");
  });

  it("a new runId waits for the active run (FIFO): continued until the first run ends, then runs", async () => {
    const id = await client.newSession();
    const a = await client.exec(id, { mode: "query", runId: "run-a", code: "print A1; sleep 700; print A2" });
    assert.equal(a.status, "continued");
    const b = await client.exec(id, { mode: "query", runId: "run-b", code: "print B" });
    assert.equal(b.runId, "run-b");
    assert.equal(b.status, "continued");
    assert.equal(stdoutOf(b), "");

    let ra = a;
    const aOut = [stdoutOf(a)];
    while (ra.status !== "finished") {
      ra = await client.exec(id, { mode: "continue", runId: "run-a", code: "" });
      aOut.push(stdoutOf(ra));
    }
    assert.equal(aOut.join(""), "A1\nA2\n");

    let rb = b;
    const bOut = [stdoutOf(b)];
    while (rb.status !== "finished") {
      rb = await client.exec(id, { mode: "continue", runId: "run-b", code: "" });
      bOut.push(stdoutOf(rb));
    }
    assert.equal(bOut.join(""), "B\n");
    assert.equal(rb.exitCode, 0);
  });

  it("a query reusing the runId of an active run → 400", async () => {
    const id = await client.newSession();
    const a = await client.exec(id, { mode: "query", runId: "dup-run", code: "spin" });
    assert.equal(a.status, "continued");
    const res = await client.execute(id, { mode: "query", runId: "dup-run", code: "print again" });
    assertProblem(res, 400, "invalid-api-params");
    const batch = await client.execute(id, { mode: "batch", runId: "dup-run", code: "", options: { exec: "print x" } });
    assertProblem(batch, 400, "invalid-api-params");
    assert.equal((await client.interrupt(id)).status, 204);
  });
});

describe("execute: input", () => {
  let env: TestEnv;
  let client: Client;
  before(async () => {
    env = await makeEnv({ config: { flushIntervalMs: 100 } });
    client = env.client;
  });
  after(() => env.close());

  it("input → waiting-input with {is_password: false}; mode input feeds it", async () => {
    const id = await client.newSession();
    const w = await client.exec(id, { mode: "query", runId: null, code: "input name?" });
    assert.equal(w.status, "waiting-input");
    assert.equal(w.exitCode, null);
    assert.deepEqual(w.options, { is_password: false });
    const done = await client.exec(id, { mode: "input", runId: w.runId, code: "bob" });
    assert.equal(done.status, "finished");
    assert.equal(done.exitCode, 0);
    assert.deepEqual(done.console, [["stdout", "got: bob\n"]]);
  });

  it("password → waiting-input with {is_password: true}", async () => {
    const id = await client.newSession();
    const w = await client.exec(id, { mode: "query", runId: null, code: "password secret?" });
    assert.equal(w.status, "waiting-input");
    assert.deepEqual(w.options, { is_password: true });
    const done = await client.exec(id, { mode: "input", runId: w.runId, code: "hunter2" });
    assert.equal(done.status, "finished");
    assert.equal(stdoutOf(done), "got: hunter2\n");
  });

  it("two inputs in one run", async () => {
    const id = await client.newSession();
    const run = await client.query(id, "input a?; input b?", { inputs: ["one", "two"] });
    assert.deepEqual(run.statuses, ["waiting-input", "waiting-input", "finished"]);
    assert.equal(run.stdout, "got: one\ngot: two\n");
  });

  it("input in batch exec", async () => {
    const id = await client.newSession();
    const run = await client.run(id, { mode: "batch", code: "", options: { exec: "input x?" } }, { inputs: ["batch-in"] });
    assert.ok(run.statuses.includes("waiting-input"));
    assert.equal(run.final.status, "finished");
    assert.equal(run.stdout, "got: batch-in\n");
  });

  it("input on a run that is not waiting → 400", async () => {
    const id = await client.newSession();
    const r = await client.exec(id, { mode: "query", runId: "busy-run", code: "sleep 600" });
    assert.equal(r.status, "continued");
    const res = await client.execute(id, { mode: "input", runId: "busy-run", code: "text" });
    assertProblem(res, 400, "invalid-api-params");
    assert.equal((await client.interrupt(id)).status, 204);
  });

  it("input without runId → 400 invalid-api-params", async () => {
    const id = await client.newSession();
    assertProblem(await client.execute(id, { mode: "input", code: "x" }), 400, "invalid-api-params");
  });

  it("input for an unknown runId → 4xx, not 500", async () => {
    const id = await client.newSession();
    const res = await client.execute(id, { mode: "input", runId: "never-started", code: "x" });
    assert.ok(res.status === 400 || res.status === 404, `${res.status} ${res.text}`);
    assert.match(res.contentType, /^application\/problem\+json/);
  });
});

describe("execute: modes and parameters", () => {
  let env: TestEnv;
  let client: Client;
  let id: string;
  before(async () => {
    env = await makeEnv({ config: { flushIntervalMs: 100 } });
    client = env.client;
    id = await client.newSession();
  });
  after(() => env.close());

  for (const mode of ["run", "QUERY", "", "exec"]) {
    it(`mode ${JSON.stringify(mode)} → 400 invalid-api-params`, async () => {
      assertProblem(await client.execute(id, { mode, runId: null, code: "print x" }), 400, "invalid-api-params");
    });
  }

  it("missing mode → 400 invalid-api-params", async () => {
    assertProblem(await client.execute(id, { runId: null, code: "print x" }), 400, "invalid-api-params", { msg: /mode/ });
  });

  it("code that is not a string → 400 invalid-api-params", async () => {
    assertProblem(await client.execute(id, { mode: "query", runId: null, code: 42 }), 400, "invalid-api-params");
  });

  it("batch options that are not an object → 400 invalid-api-params", async () => {
    assertProblem(await client.execute(id, { mode: "batch", runId: null, code: "", options: "exec" }), 400, "invalid-api-params");
  });

  it("mode complete → {result: {status: finished, completions}}", async () => {
    const res = await client.execute(id, { mode: "complete", runId: null, code: "pr", options: {} });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.result.status, "finished");
    assert.ok(Array.isArray(res.json.result.completions));
    assert.ok(res.json.result.completions.includes("print"), JSON.stringify(res.json.result.completions));
    assert.ok(!res.json.result.completions.includes("exit"));
  });

  it("execute on an unknown session → 404 object-not-found", async () => {
    const res = await client.execute(crypto.randomUUID(), { mode: "query", runId: null, code: "print x" });
    assertProblem(res, 404, "object-not-found", { title: "No such session." });
  });

  it("execute by session name", async () => {
    const created = await client.createSession({ lang: "script", clientSessionToken: "exec-by-name" });
    assert.equal(created.status, 201);
    const r = await client.exec("exec-by-name", { mode: "query", runId: null, code: "print by-name" });
    assert.equal(stdoutOf(r), "by-name\n");
  });
});

describe("execute: step timeout", () => {
  let env: TestEnv;
  let client: Client;
  before(async () => {
    env = await makeEnv({ config: { flushIntervalMs: 100, stepTimeoutMs: 300 } });
    client = env.client;
  });
  after(() => env.close());

  it("spin past stepTimeoutMs → exec-timeout with exitCode null; the session runs the next query", async () => {
    const id = await client.newSession();
    const run = await client.query(id, "print before; spin");
    assert.equal(run.final.status, "exec-timeout");
    assert.equal(run.final.exitCode, null);
    assert.equal(run.stdout, "before\n");
    const next = await client.query(id, "print alive");
    assert.equal(next.final.status, "finished");
    assert.equal(next.stdout, "alive\n");
  });

  it("a batch exec step past the limit → exec-timeout", async () => {
    const id = await client.newSession();
    const run = await client.batch(id, { build: "print b", exec: "spin" });
    assert.equal(run.final.status, "exec-timeout");
    assert.equal(run.final.exitCode, null);
    assert.ok(run.statuses.includes("build-finished"));
    const next = await client.query(id, "print alive");
    assert.equal(next.stdout, "alive\n");
  });

  it("the timeout applies per step, not to waiting runs", async () => {
    const id = await client.newSession();
    // Two steps of 200 ms each: under the 300 ms limit each.
    const run = await client.batch(id, { build: "sleep 200", exec: "sleep 200; print ok" });
    assert.equal(run.final.status, "finished");
    assert.equal(run.stdout, "ok\n");
  });
});

describe("execute: console cap", () => {
  const cap = 2048;
  let env: TestEnv;
  let client: Client;
  before(async () => {
    env = await makeEnv({ config: { flushIntervalMs: 100, consoleCapChars: cap } });
    client = env.client;
  });
  after(() => env.close());

  it("a stdout flood past the cap is cut and marked truncated; nothing is lost before the cap", async () => {
    const id = await client.newSession();
    const run = await client.query(id, "print before; flood 20000");
    assert.equal(run.final.status, "finished");
    assert.equal(run.final.exitCode, 0);
    assert.ok(run.stdout.length < 20000, `stdout ${run.stdout.length} chars`);
    assert.ok(run.stdout.startsWith("before\n"), run.stdout.slice(0, 50));
    assert.match(run.stdout, /truncated/i);
    const xs = /^before\n(x*)/.exec(run.stdout)![1]!.length;
    assert.ok(xs >= cap - "before\n".length - 256, `only ${xs} chars kept`);
    assert.ok(xs <= cap, `${xs} chars kept, cap ${cap}`);
  });

  it("a stderr flood is capped too", async () => {
    const id = await client.newSession();
    const run = await client.query(id, "flood 20000 stderr");
    assert.ok(run.stderr.length < 20000, `stderr ${run.stderr.length} chars`);
    assert.match(run.stderr, /truncated/i);
  });

  it("output under the cap is untouched", async () => {
    const id = await client.newSession();
    const run = await client.query(id, "flood 1500");
    assert.equal(run.stdout, "x".repeat(1500));
  });
});

describe("execute: a kernel that throws", () => {
  let env: TestEnv;
  let client: Client;
  before(async () => {
    env = await makeEnv({ config: { flushIntervalMs: 100 } });
    client = env.client;
  });
  after(() => env.close());

  it("ends the run (negative exitCode or 500 kernel-execution-failed) and the session keeps serving", async () => {
    const id = await client.newSession();
    const res = await client.execute(id, { mode: "query", runId: null, code: "fail" });
    if (res.status === 200) {
      let r = res.json.result as ExecResult;
      while (r.status === "continued") r = await client.exec(id, { mode: "continue", runId: r.runId, code: "" });
      assert.equal(r.status, "finished");
      assert.ok(typeof r.exitCode === "number" && r.exitCode < 0, `exitCode ${r.exitCode}`);
    } else {
      assertProblem(res, 500, "kernel-execution-failed");
    }
    const next = await client.query(id, "print still-alive");
    assert.equal(next.final.status, "finished");
    assert.equal(next.stdout, "still-alive\n");
  });

  it("a failing batch step does the same", async () => {
    const id = await client.newSession();
    let res = await client.execute(id, { mode: "batch", runId: null, code: "", options: { exec: "fail" } });
    const runId = res.json?.result?.runId;
    for (let i = 0; i < 50 && res.status === 200 && res.json.result.status !== "finished"; i++) {
      res = await client.execute(id, { mode: "continue", runId, code: "" });
    }
    if (res.status === 200) {
      assert.equal(res.json.result.status, "finished");
      assert.ok(res.json.result.exitCode < 0, `exitCode ${res.json.result.exitCode}`);
    } else {
      assertProblem(res, 500, "kernel-execution-failed");
    }
    const next = await client.query(id, "print still-alive");
    assert.equal(next.stdout, "still-alive\n");
  });
});
