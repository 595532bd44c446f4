// Runs and sessions: Backend.AI's Code Execution Model driven through the real
// Registry → Session → Run → script kernel, with no HTTP in between.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseConfig, type KilnConfigInput } from "../../src/config.ts";
import { Catalog } from "../../src/kernels/catalog.ts";
import type { Kernel, KernelFactory, StepIO } from "../../src/kernels/kernel.ts";
import { SessionError, type SessionErrorCode } from "../../src/sessions/errors.ts";
import { Registry } from "../../src/sessions/registry.ts";
import type { RunResult } from "../../src/sessions/run.ts";
import type { Session } from "../../src/sessions/session.ts";
import { scriptKernelFactory } from "../helpers/script-kernel.ts";

const FLUSH_MS = 100;

type Factory = ReturnType<typeof scriptKernelFactory>;

interface Env {
  registry: Registry;
  factory: Factory;
  newSession(): Promise<Session>;
}

let sessionCounter = 0;

function makeEnv(config: KilnConfigInput = {}, factory: Factory = scriptKernelFactory()): Env {
  const registry = new Registry(parseConfig({ flushIntervalMs: FLUSH_MS, ...config }), new Catalog([factory]));
  return {
    registry,
    factory,
    async newSession() {
      const { session } = await registry.create({ owner: null, image: "script", name: `s${++sessionCounter}`, environ: {}, reuseIfExists: false, tag: null });
      return session;
    },
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function query(code: string) {
  return { mode: "query" as const, code };
}

function batch(options: { clean?: string | null; build?: string | null; exec?: string | null }) {
  return { mode: "batch" as const, options };
}

const ENDS = new Set(["finished", "exec-timeout"]);

/** Continues a run until it ends; returns every result including `first`. Fails on waiting-input. */
async function drain(session: Session, first: RunResult, limit = 200): Promise<RunResult[]> {
  const results = [first];
  let last = first;
  while (!ENDS.has(last.status)) {
    assert.notEqual(last.status, "waiting-input", "unexpected waiting-input");
    assert.ok(results.length < limit, `run ${first.runId} did not end after ${limit} reads`);
    last = await session.continue(first.runId);
    results.push(last);
  }
  return results;
}

function text(results: RunResult[], stream: "stdout" | "stderr" = "stdout"): string {
  return results.flatMap((r) => r.console.filter((i) => i[0] === stream).map((i) => i[1] as string)).join("");
}

/** Starts a run and reads it to its end. */
async function runToEnd(session: Session, runId: string, job: Parameters<Session["start"]>[1]): Promise<RunResult[]> {
  return drain(session, await session.start(runId, job));
}

async function rejectsCode(fn: () => unknown, code: SessionErrorCode): Promise<SessionError> {
  let caught: unknown;
  try {
    await fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof SessionError, `expected SessionError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code);
  return caught;
}

/** Reads a run until its first result that is not "continued" (a spin never gets there). */
async function nextControl(session: Session, runId: string): Promise<RunResult> {
  for (let i = 0; i < 100; i++) {
    const r = await session.continue(runId);
    if (r.status !== "continued") return r;
  }
  throw new Error(`run ${runId} never reached a control record`);
}

describe("query mode", () => {
  let env: Env;
  let session: Session;
  before(async () => {
    env = makeEnv();
    session = await env.newSession();
  });
  after(() => env.registry.close());

  it("answers {runId, status, exitCode, options, files, console}", async () => {
    const r = await session.start("q1", query("print hello"));
    assert.deepEqual(Object.keys(r).sort(), ["console", "exitCode", "files", "options", "runId", "status"]);
    assert.deepEqual(r, { runId: "q1", status: "finished", exitCode: 0, options: null, files: [], console: [["stdout", "hello\n"]] });
  });

  it("reports the code's exit code and merges its output per stream, in order", async () => {
    const [r, ...rest] = await runToEnd(session, "q2", query("print a; print b; eprint e; print c; exit 5"));
    assert.equal(rest.length, 0);
    assert.equal(r!.status, "finished");
    assert.equal(r!.exitCode, 5);
    assert.deepEqual(r!.console, [
      ["stdout", "a\nb\n"],
      ["stderr", "e\n"],
      ["stdout", "c\n"],
    ]);
  });

  it("passes html and media items through as separate items", async () => {
    const r = await session.start("q3", query("print a; html <b>hi</b>; media image/svg+xml <svg/>; print b"));
    assert.deepEqual(r.console, [
      ["stdout", "a\n"],
      ["html", "<b>hi</b>"],
      ["media", ["image/svg+xml", "<svg/>"]],
      ["stdout", "b\n"],
    ]);
  });

  it("empty code finishes with 0 and no output", async () => {
    const r = await session.start("q4", query(""));
    assert.deepEqual(r, { runId: "q4", status: "finished", exitCode: 0, options: null, files: [], console: [] });
  });

  it("kernel state persists between runs", async () => {
    await runToEnd(session, "q5", query("set colour blue"));
    const results = await runToEnd(session, "q6", query("get colour"));
    assert.equal(text(results), "blue\n");
  });

  it("a missing command is the kernel's 127", async () => {
    const [r] = await runToEnd(session, "q7", query("frobnicate"));
    assert.equal(r!.exitCode, 127);
    assert.deepEqual(r!.console, [["stderr", "frobnicate: unsupported command\n"]]);
  });
});

describe("batch mode", () => {
  let env: Env;
  let session: Session;
  before(async () => {
    env = makeEnv();
    session = await env.newSession();
  });
  after(() => env.registry.close());

  it("answers clean-finished, build-finished, finished in that order with each step's exit code and output", async () => {
    const results = await runToEnd(session, "b1", batch({ clean: "print cleaning; exit 3", build: "eprint building", exec: "print running; exit 4" }));
    assert.deepEqual(
      results.map((r) => [r.status, r.exitCode, r.console]),
      [
        ["clean-finished", 3, [["stdout", "cleaning\n"]]],
        ["build-finished", 0, [["stderr", "building\n"]]],
        ["finished", 4, [["stdout", "running\n"]]],
      ],
    );
    for (const r of results) {
      assert.equal(r.runId, "b1");
      assert.equal(r.options, null);
      assert.deepEqual(r.files, []);
    }
  });

  it("absent steps report 0", async () => {
    const results = await runToEnd(session, "b2", batch({}));
    assert.deepEqual(
      results.map((r) => [r.status, r.exitCode, r.console]),
      [
        ["clean-finished", 0, []],
        ["build-finished", 0, []],
        ["finished", 0, []],
      ],
    );
  });

  it('empty ("") and null steps report 0', async () => {
    const results = await runToEnd(session, "b3", batch({ clean: "", build: null, exec: "" }));
    assert.deepEqual(
      results.map((r) => [r.status, r.exitCode]),
      [
        ["clean-finished", 0],
        ["build-finished", 0],
        ["finished", 0],
      ],
    );
  });

  it("a failed build skips exec (no side effects of exec) and reports finished 127", async () => {
    const results = await runToEnd(session, "b4", batch({ build: "eprint compile error; exit 2", exec: "write exec-ran yes; set execRan yes; print ran" }));
    assert.deepEqual(
      results.map((r) => [r.status, r.exitCode]),
      [
        ["clean-finished", 0],
        ["build-finished", 2],
        ["finished", 127],
      ],
    );
    assert.equal(text(results, "stderr"), "compile error\n");
    assert.equal(text(results), "", "exec printed nothing");
    assert.equal(await session.vfs.stat("exec-ran"), null, "exec wrote no file");
    assert.equal(text(await runToEnd(session, "b4-check", query("get execRan"))), "\n", "exec set no state");
  });

  it('"*" runs the kernel\'s defaults: main.script from the session files', async () => {
    await session.vfs.writeFiles([{ path: "main.script", data: new TextEncoder().encode("print from main\nexit 6\n") }]);
    const results = await runToEnd(session, "b5", batch({ build: "*", exec: "*" }));
    assert.deepEqual(
      results.map((r) => [r.status, r.exitCode]),
      [
        ["clean-finished", 0],
        ["build-finished", 0],
        ["finished", 6],
      ],
    );
    assert.equal(text(results), "from main\n");
    await session.vfs.rm("main.script");
    const missing = await runToEnd(session, "b6", batch({ exec: "*" }));
    assert.equal(missing.at(-1)!.exitCode, 127);
    assert.equal(text(missing, "stderr"), "main.script: not found\n");
  });

  it("a batch counts as one execution; each control record is answered without waiting for the flush", async () => {
    const before = session.numQueriesExecuted;
    const started = Date.now();
    await runToEnd(session, "b7", batch({ clean: "print c", build: "print b", exec: "print e" }));
    assert.equal(session.numQueriesExecuted, before + 1);
    assert.ok(Date.now() - started < FLUSH_MS * 3 + 1000, "three control records come back promptly");
  });
});

describe("flushing and continue", () => {
  let env: Env;
  let session: Session;
  before(async () => {
    env = makeEnv();
    session = await env.newSession();
  });
  after(() => env.registry.close());

  it("answers continued with the output so far after the flush interval, then the rest on continue", async () => {
    const first = await session.start("f1", query("print one; sleep 400; print two; exit 2"));
    assert.equal(first.status, "continued");
    assert.equal(first.exitCode, null);
    assert.equal(first.options, null);
    assert.deepEqual(first.console, [["stdout", "one\n"]]);
    const results = await drain(session, first);
    const last = results.at(-1)!;
    assert.equal(last.status, "finished");
    assert.equal(last.exitCode, 2);
    assert.equal(text(results), "one\ntwo\n");
    for (const r of results.slice(0, -1)) assert.equal(r.status, "continued");
    assert.deepEqual(last.console, [["stdout", "two\n"]], "nothing delivered twice, nothing lost");
  });

  it("a continue with nothing new answers continued with an empty console", async () => {
    const first = await session.start("f2", query("sleep 350"));
    assert.equal(first.status, "continued");
    assert.deepEqual(first.console, []);
    const results = await drain(session, first);
    assert.equal(results.at(-1)!.status, "finished");
    assert.equal(results.at(-1)!.exitCode, 0);
  });

  it("no-such-run for an unknown runId (continue and input)", async () => {
    await rejectsCode(() => session.continue("never-started"), "no-such-run");
    await rejectsCode(() => session.input("never-started", "x"), "no-such-run");
  });

  it("a run fully read is forgotten: continue then says no-such-run", async () => {
    await runToEnd(session, "f3", query("print x"));
    await rejectsCode(() => session.continue("f3"), "no-such-run");
  });

  it("a runId can be reused once its run was fully read", async () => {
    const a = await runToEnd(session, "f4", query("print first"));
    assert.equal(text(a), "first\n");
    const b = await runToEnd(session, "f4", query("print second"));
    assert.equal(text(b), "second\n");
    assert.equal(b.at(-1)!.runId, "f4");
  });

  it("run-active when a new query or batch reuses the runId of an unfinished run", async () => {
    const first = await session.start("f5", query("spin"));
    assert.equal(first.status, "continued");
    await rejectsCode(() => session.start("f5", query("print again")), "run-active");
    await rejectsCode(() => session.start("f5", batch({ exec: "print again" })), "run-active");
    session.interrupt();
    const results = await drain(session, await session.continue("f5"));
    assert.equal(results.at(-1)!.exitCode, 130);
  });

  it("run-active also for a run that ended but whose end was not read yet", async () => {
    const first = await session.start("f6", query("sleep 250; print late"));
    assert.equal(first.status, "continued");
    await sleep(400); // the run has ended, its finished record is unread
    await rejectsCode(() => session.start("f6", query("print again")), "run-active");
    const r = await session.continue("f6");
    assert.equal(r.status, "finished");
    assert.deepEqual(r.console, [["stdout", "late\n"]]);
  });
});

describe("runs of one session are FIFO", () => {
  let env: Env;
  let session: Session;
  before(async () => {
    env = makeEnv();
    session = await env.newSession();
  });
  after(() => env.registry.close());

  it("a second run answers continued while the first runs, and starts only after the first ends", async () => {
    const firstP = session.start("A", query("sleep 400; set order A-done; write fifo.txt from-A; print A"));
    await sleep(20);
    const b1 = await session.start("B", query("get order; cat fifo.txt"));
    assert.equal(b1.status, "continued", "B waits for A");
    assert.deepEqual(b1.console, []);
    assert.equal(await session.vfs.stat("fifo.txt"), null, "A has not written yet");

    const aResults = await drain(session, await firstP);
    assert.equal(text(aResults), "A\n");
    const bResults = await drain(session, b1);
    assert.equal(bResults.at(-1)!.status, "finished");
    assert.equal(bResults.at(-1)!.exitCode, 0);
    assert.equal(text(bResults), "A-done\nfrom-A", "B saw A's state and files");
  });

  it("three queued runs execute in arrival order", async () => {
    const p1 = session.start("o1", query("sleep 150; write order.txt 1"));
    const p2 = session.start("o2", query("cat order.txt; write order.txt 2"));
    const p3 = session.start("o3", query("cat order.txt; write order.txt 3"));
    const [r1, r2, r3] = await Promise.all([p1, p2, p3]);
    await drain(session, r1!);
    assert.equal(text(await drain(session, r2!)), "1");
    assert.equal(text(await drain(session, r3!)), "2");
  });

  it("interrupt stops only the current run; queued runs still run", async () => {
    const spin = await session.start("i1", query("print started; spin"));
    assert.equal(spin.status, "continued");
    assert.deepEqual(spin.console, [["stdout", "started\n"]]);
    const queuedP = session.start("i2", query("print queued-ran"));
    await sleep(20);
    session.interrupt();
    const spinEnd = await drain(session, spin);
    assert.equal(spinEnd.at(-1)!.status, "finished");
    assert.equal(spinEnd.at(-1)!.exitCode, 130);
    const queued = await drain(session, await queuedP);
    assert.equal(queued.at(-1)!.exitCode, 0);
    assert.equal(text(queued), "queued-ran\n");
  });

  it("interrupt with nothing running is harmless", async () => {
    session.interrupt();
    assert.equal(text(await runToEnd(session, "i3", query("print ok"))), "ok\n");
  });

  it("interrupt of a spinning batch exec ends the run with finished 130", async () => {
    const first = await session.start("i4", batch({ exec: "spin" }));
    assert.equal(first.status, "clean-finished");
    assert.equal((await session.continue("i4")).status, "build-finished");
    const r = await session.continue("i4");
    assert.equal(r.status, "continued");
    session.interrupt();
    const results = await drain(session, r);
    assert.deepEqual([results.at(-1)!.status, results.at(-1)!.exitCode], ["finished", 130]);
  });
});

describe("input", () => {
  let env: Env;
  let session: Session;
  before(async () => {
    env = makeEnv();
    session = await env.newSession();
  });
  after(() => env.registry.close());

  it("waiting-input carries options {is_password: false} and the prompt output; input resumes the run", async () => {
    const r = await session.start("in1", query("chunk Name?; input Name?; print after"));
    assert.equal(r.status, "waiting-input");
    assert.equal(r.exitCode, null);
    assert.deepEqual(r.options, { is_password: false });
    assert.deepEqual(r.console, [["stdout", "Name?"]]);
    const next = await session.input("in1", "Ada");
    assert.equal(next.status, "finished");
    assert.equal(next.exitCode, 0);
    assert.deepEqual(next.console, [["stdout", "got: Ada\nafter\n"]]);
  });

  it("a password prompt sets is_password: true", async () => {
    const r = await session.start("in2", query("password Secret?"));
    assert.equal(r.status, "waiting-input");
    assert.deepEqual(r.options, { is_password: true });
    const next = await session.input("in2", "hunter2");
    assert.deepEqual([next.status, next.exitCode, next.console], ["finished", 0, [["stdout", "got: hunter2\n"]]]);
  });

  it("several inputs in one run", async () => {
    const r = await session.start("in3", query("input a; input b; print done"));
    assert.equal(r.status, "waiting-input");
    const second = await session.input("in3", "1");
    assert.equal(second.status, "waiting-input");
    assert.deepEqual(second.console, [["stdout", "got: 1\n"]]);
    const end = await session.input("in3", "2");
    assert.equal(end.status, "finished");
    assert.deepEqual(end.console, [["stdout", "got: 2\ndone\n"]]);
  });

  it("a batch exec step can ask for input too", async () => {
    const first = await session.start("in4", batch({ exec: "input x" }));
    assert.equal(first.status, "clean-finished");
    assert.equal((await session.continue("in4")).status, "build-finished");
    const waiting = await nextControl(session, "in4");
    assert.equal(waiting.status, "waiting-input");
    const end = await session.input("in4", "batch-input");
    assert.deepEqual([end.status, end.exitCode, end.console], ["finished", 0, [["stdout", "got: batch-input\n"]]]);
  });

  it("not-waiting-input when the run is not waiting", async () => {
    const r = await session.start("in5", query("spin"));
    assert.equal(r.status, "continued");
    await rejectsCode(() => session.input("in5", "x"), "not-waiting-input");
    session.interrupt();
    assert.equal((await drain(session, r)).at(-1)!.exitCode, 130);
  });

  it("not-waiting-input after the input was already given", async () => {
    const r = await session.start("in6", query("input a; sleep 300"));
    assert.equal(r.status, "waiting-input");
    const next = await session.input("in6", "once");
    assert.equal(next.status, "continued");
    await rejectsCode(() => session.input("in6", "twice"), "not-waiting-input");
    assert.equal((await drain(session, next)).at(-1)!.status, "finished");
  });

  it("interrupt while waiting for input ends the run with 130", async () => {
    const r = await session.start("in7", query("input a; print never"));
    assert.equal(r.status, "waiting-input");
    session.interrupt();
    const end = await session.continue("in7");
    assert.deepEqual([end.status, end.exitCode], ["finished", 130]);
    assert.equal(text([end]), "");
    await rejectsCode(() => session.input("in7", "late"), "no-such-run");
  });
});

describe("step timeouts", () => {
  let env: Env;
  let session: Session;
  before(async () => {
    env = makeEnv({ stepTimeoutMs: 300 });
    session = await env.newSession();
  });
  after(() => env.registry.close());

  it("a query past the step limit ends with exec-timeout and exitCode null; the session works afterwards", async () => {
    await runToEnd(session, "t0", query("set kept yes"));
    const results = await runToEnd(session, "t1", query("print before; spin"));
    const last = results.at(-1)!;
    assert.equal(last.status, "exec-timeout");
    assert.equal(last.exitCode, null);
    assert.equal(last.options, null);
    assert.equal(text(results), "before\n");
    await rejectsCode(() => session.continue("t1"), "no-such-run");

    const after = await runToEnd(session, "t2", query("print after; get kept"));
    assert.deepEqual([after.at(-1)!.status, after.at(-1)!.exitCode], ["finished", 0]);
    assert.equal(text(after), "after\nyes\n");
  });

  it("a batch build past the limit ends the run with exec-timeout; exec does not run", async () => {
    const results = await runToEnd(session, "t3", batch({ build: "spin", exec: "write timed-out-exec yes" }));
    assert.deepEqual(
      results.filter((r) => r.status !== "continued").map((r) => r.status),
      ["clean-finished", "exec-timeout"],
    );
    assert.equal(await session.vfs.stat("timed-out-exec"), null);
  });

  it("the limit applies per step: three steps each under it succeed", async () => {
    const results = await runToEnd(session, "t4", batch({ clean: "sleep 150", build: "sleep 150", exec: "sleep 150" }));
    assert.deepEqual(
      results.filter((r) => r.status !== "continued").map((r) => [r.status, r.exitCode]),
      [
        ["clean-finished", 0],
        ["build-finished", 0],
        ["finished", 0],
      ],
    );
  });

  it("the step timer is paused while the run waits for input", async () => {
    const r = await session.start("t5", query("input q; print done"));
    assert.equal(r.status, "waiting-input");
    await sleep(600); // twice the step limit
    const end = await session.input("t5", "late answer");
    const results = await drain(session, end);
    assert.deepEqual([results.at(-1)!.status, results.at(-1)!.exitCode], ["finished", 0]);
    assert.equal(text(results), "got: late answer\ndone\n");
  });

  it("...and runs again after the input is given", async () => {
    const r = await session.start("t6", query("input q; spin"));
    assert.equal(r.status, "waiting-input");
    await sleep(400);
    const results = await drain(session, await session.input("t6", "x"));
    assert.equal(results.at(-1)!.status, "exec-timeout");
  });
});

describe("restart", () => {
  let env: Env;
  let session: Session;
  before(async () => {
    env = makeEnv();
    session = await env.newSession();
  });
  after(() => env.registry.close());

  it("during a spin: that run ends 130, kernel state is reset, files are kept", async () => {
    await runToEnd(session, "r0", query("set k v; write kept.txt still-here"));
    assert.equal(text(await runToEnd(session, "r0b", query("get k"))), "v\n");

    const spin = await session.start("r1", query("spin"));
    assert.equal(spin.status, "continued");
    await session.restart();
    assert.equal(session.status, "RUNNING");
    const end = await drain(session, spin);
    assert.deepEqual([end.at(-1)!.status, end.at(-1)!.exitCode], ["finished", 130]);

    assert.equal(text(await runToEnd(session, "r2", query("get k"))), "\n", "state reset");
    assert.equal(text(await runToEnd(session, "r3", query("cat kept.txt"))), "still-here", "files kept");
  });

  it("with nothing running, it resets state and the session keeps working", async () => {
    await runToEnd(session, "r4", query("set a 1"));
    await session.restart();
    assert.equal(text(await runToEnd(session, "r5", query("get a; print ok"))), "\nok\n");
  });

  it("while a run waits for input: the run ends 130", async () => {
    const r = await session.start("r6", query("input x"));
    assert.equal(r.status, "waiting-input");
    await session.restart();
    const end = await session.continue("r6");
    assert.deepEqual([end.status, end.exitCode], ["finished", 130]);
  });

  it("runs queued behind the aborted run execute on the fresh state (after the restart)", async () => {
    await runToEnd(session, "r7", query("set k before-restart"));
    const spin = await session.start("r8", query("spin"));
    assert.equal(spin.status, "continued");
    const queuedP = session.start("r9", query("get k"));
    await sleep(20);
    await session.restart();
    await drain(session, spin);
    const queued = await drain(session, await queuedP);
    assert.equal(text(queued), "\n", "the queued run saw state from before the restart");
  });
});

describe("destroy", () => {
  it("while a run waits for input: the run ends, the files are freed, the kernel is destroyed once", async () => {
    const env = makeEnv();
    try {
      const session = await env.newSession();
      await runToEnd(session, "d0", query("write f.txt data"));
      assert.notEqual(await session.vfs.stat("f.txt"), null);

      const r = await session.start("d1", query("input x; print never"));
      assert.equal(r.status, "waiting-input");
      const stats = await session.destroy();
      assert.equal(typeof stats.numQueriesExecuted, "number");
      assert.equal(session.status, "TERMINATED");
      assert.equal(env.factory.destroyed, 1);

      const end = await session.continue("d1");
      assert.deepEqual([end.status, end.exitCode], ["finished", 130]);
      assert.equal(text([end]), "");

      const gone = await session.vfs.stat("f.txt").catch(() => null);
      assert.equal(gone, null, "the session's files are gone");

      await session.destroy();
      assert.equal(env.factory.destroyed, 1, "a second destroy does not destroy the kernel again");
    } finally {
      await env.registry.close();
    }
  });

  it("through the registry, while a spin and queued runs exist: all end, kernel destroyed once", async () => {
    const env = makeEnv();
    try {
      const session = await env.newSession();
      const spin = await session.start("d2", query("spin"));
      assert.equal(spin.status, "continued");
      const queuedP = session.start("d3", query("write should-not-exist x"));
      await sleep(20);
      await env.registry.destroy(session.id, null);
      assert.equal(env.factory.destroyed, 1);
      assert.equal((await drain(session, spin)).at(-1)!.exitCode, 130);
      const queued = await drain(session, await queuedP);
      assert.deepEqual([queued.at(-1)!.status, queued.at(-1)!.exitCode], ["finished", 130]);
      assert.equal(text(queued), "");
      await rejectsCode(() => env.registry.get(session.id, null), "no-such-session");
    } finally {
      await env.registry.close();
    }
    assert.equal(env.factory.destroyed, 1, "close() after destroy does not destroy it again");
  });
});

describe("a kernel that fails", () => {
  let env: Env;
  let session: Session;
  before(async () => {
    env = makeEnv();
    session = await env.newSession();
  });
  after(() => env.registry.close());

  it("a throwing kernel finishes the run with exitCode -1 and a kiln stderr line", async () => {
    const results = await runToEnd(session, "k1", query("print before; fail"));
    const last = results.at(-1)!;
    assert.deepEqual([last.status, last.exitCode], ["finished", -1]);
    assert.equal(text(results), "before\n");
    assert.equal(text(results, "stderr"), "kiln: the kernel failed: script kernel failure\n");
  });

  it("in a batch step too, and the session works afterwards", async () => {
    const results = await runToEnd(session, "k2", batch({ build: "fail", exec: "print no" }));
    assert.deepEqual(
      results.map((r) => [r.status, r.exitCode]),
      [
        ["clean-finished", 0],
        ["build-finished", -1],
        ["finished", 127],
      ],
    );
    assert.match(text(results, "stderr"), /^kiln: the kernel failed: script kernel failure\n$/);
    assert.equal(text(await runToEnd(session, "k3", query("print fine"))), "fine\n");
  });
});

describe("limits and bookkeeping", () => {
  let env: Env;
  before(() => {
    env = makeEnv({ consoleCapChars: 2048 });
  });
  after(() => env.registry.close());

  it("too-many-runs past 16 unfinished runs; accepted again once they are read", async () => {
    const session = await env.newSession();
    const head = await session.start("head", query("spin"));
    assert.equal(head.status, "continued");
    const queued: Promise<RunResult>[] = [];
    for (let i = 1; i < 16; i++) queued.push(session.start(`q${i}`, query(`print ${i}`)));
    await rejectsCode(() => session.start("one-too-many", query("print no")), "too-many-runs");
    await rejectsCode(() => session.start("another", batch({ exec: "print no" })), "too-many-runs");

    session.interrupt();
    assert.equal((await drain(session, head)).at(-1)!.exitCode, 130);
    const firsts = await Promise.all(queued);
    for (const [i, first] of firsts.entries()) {
      const results = await drain(session, first);
      assert.equal(text(results), `${i + 1}\n`);
    }
    assert.equal(text(await runToEnd(session, "after", query("print accepted"))), "accepted\n");
  });

  it("runs that ended but were never read do not block new runs for ever", async () => {
    const fast = makeEnv({ flushIntervalMs: 20 });
    try {
      const session = await fast.newSession();
      for (let i = 0; i < 20; i++) {
        const r = await session.start(`unread${i}`, query("sleep 30"));
        assert.equal(r.status, "continued"); // never read again
      }
      assert.equal(text(await runToEnd(session, "last", query("print ok"))), "ok\n");
    } finally {
      await fast.registry.close();
    }
  });

  it("numQueriesExecuted counts queries and batches", async () => {
    const session = await env.newSession();
    assert.equal(session.numQueriesExecuted, 0);
    await runToEnd(session, "n1", query("print 1"));
    await runToEnd(session, "n2", query(""));
    await runToEnd(session, "n3", batch({ exec: "print 3" }));
    assert.equal(session.numQueriesExecuted, 3);
    assert.equal(session.stats().numQueriesExecuted, 3);
  });

  it("the console cap per answer: a flood is cut with a marker, and the next answer carries a full cap again", async () => {
    const session = await env.newSession();
    const first = await session.start("c1", query("flood 5000; eprint e; sleep 300; flood 2048"));
    assert.equal(first.status, "continued");
    assert.deepEqual(first.console, [
      ["stdout", "x".repeat(2048)],
      ["stderr", "e\n"],
      ["stdout", "\n[kiln: output truncated: 2952 characters of stdout dropped]\n"],
    ]);
    const rest = await drain(session, first);
    assert.equal(text(rest.slice(1)), "x".repeat(2048), "a full cap again, no marker");
  });

  it("the cap applies to stderr on its own", async () => {
    const session = await env.newSession();
    const results = await runToEnd(session, "c2", query("flood 3000 stderr; print fine"));
    assert.equal(text(results), "fine\n");
    assert.equal(text(results, "stderr"), "x".repeat(2048) + "\n[kiln: output truncated: 952 characters of stderr dropped]\n");
  });

  it("logs() holds the session's output and keeps only its last 64 KiB", async () => {
    const session = await env.newSession();
    await runToEnd(session, "l1", query("print first-line; eprint an-error"));
    assert.equal(session.logs(), "first-line\nan-error\n");
    await runToEnd(session, "l2", query("flood 70000; print END"));
    const logs = session.logs();
    assert.equal(logs.length, 64 * 1024);
    assert.ok(logs.endsWith("xxxEND\n"));
    assert.ok(!logs.includes("first-line"), "the oldest output was dropped");
  });

  it("logs() keeps output the console cap dropped from the answers", async () => {
    const session = await env.newSession();
    await runToEnd(session, "l3", query("flood 3000"));
    assert.equal(session.logs(), "x".repeat(3000));
  });
});

describe("byte output from kernels", () => {
  /** A minimal kernel that writes raw bytes, to check the incremental UTF-8 decoding of StepIO.write. */
  function bytesFactory(chunks: Uint8Array[]): KernelFactory {
    return {
      name: "bytes",
      images: ["script"],
      vfs: "memory",
      async create(): Promise<Kernel> {
        return {
          async step() {
            return 0;
          },
          async query(_code: string, io: StepIO) {
            for (const chunk of chunks) io.write("stdout", chunk);
            return 0;
          },
          async complete() {
            return [];
          },
          async restart() {},
          async destroy() {},
          stats() {
            return {};
          },
        };
      },
    };
  }

  it("decodes UTF-8 split across chunks, and replaces an incomplete tail", async () => {
    const euro = new TextEncoder().encode("€"); // e2 82 ac
    const chunks = [Uint8Array.of(0x61, euro[0]!), Uint8Array.of(euro[1]!, euro[2]!, 0x62, 0xe2)];
    const registry = new Registry(parseConfig({ flushIntervalMs: FLUSH_MS }), new Catalog([bytesFactory(chunks)]));
    try {
      const { session } = await registry.create({ owner: null, image: "script", name: "bytes", environ: {}, reuseIfExists: false, tag: null });
      const r = await session.start("u1", query(""));
      assert.equal(r.status, "finished");
      assert.deepEqual(r.console, [["stdout", "a€b\uFFFD"]]);
    } finally {
      await registry.close();
    }
  });
});

describe("Run: the output limit per run", () => {
  it("drops output past outputBytes, across steps, with one note on stderr; the next run starts afresh", async () => {
    const env = makeEnv({ runOutputMaxBytes: 4096, consoleCapChars: 1 << 20 });
    try {
      const session = await env.newSession();
      const results = await runToEnd(session, "big", batch({ build: "flood 3000", exec: "flood 3000 stderr; print after" }));
      const stdout = text(results);
      const stderr = text(results, "stderr");
      assert.equal(stdout, "x".repeat(3000));
      // The exec step's first 1 KiB chunk still fits (4024 bytes); the next one crosses the limit.
      assert.equal(stderr, "x".repeat(1024) + "\n[output limit of 4096 bytes per run reached; further output is dropped]\n");
      assert.equal(results.at(-1)!.exitCode, 0, "the program itself is not stopped");
      assert.equal(text(await runToEnd(session, "next", query("flood 4000"))), "x".repeat(4000));
    } finally {
      await env.registry.close();
    }
  });

  it("counts bytes, not characters", async () => {
    const env = makeEnv({ runOutputMaxBytes: 1024 });
    try {
      const session = await env.newSession();
      // 400 × "é" is 800 bytes; twice that is over 1024.
      const results = await runToEnd(session, "utf8", query(`chunk ${"é".repeat(400)}; chunk ${"é".repeat(400)}`));
      assert.equal(text(results), "é".repeat(400));
      assert.match(text(results, "stderr"), /output limit of 1024 bytes/);
    } finally {
      await env.registry.close();
    }
  });
});
