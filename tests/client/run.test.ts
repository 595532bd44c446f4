// session.run(): the continue/input loop behind an async iterator, against a real
// `kiln serve` with the JavaScript kernel. Events in order, by step; input answered
// by the callback; a run left early is interrupted and the session serves the next.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { collectRun, KilnClient, type KilnSession } from "../../src/client/index.ts";
import { eventsOf, rejectsWith, stdoutOf } from "./assert.ts";
import { startKiln, type KilnServer } from "./kiln-server.ts";

let server: KilnServer;
let kiln: KilnClient;
let session: KilnSession;

before(async () => {
  server = await startKiln();
  kiln = new KilnClient({ url: server.url });
  session = await kiln.createSession({ lang: "javascript", name: "client-run" });
});
after(async () => {
  await session.destroy();
  await server.close();
});

describe("client: run", () => {
  it("yields a batch's steps and output in order, each item tagged with its step", async () => {
    await session.upload([
      { path: "main.ts", data: "const n: number = 6;\nconsole.log(n * 7);\nconsole.error('to stderr');\nprocess.exitCode = 3;\n" },
    ]);
    const events = await eventsOf(session.run({ mode: "batch", build: "tsc", exec: "node main.js" }));
    const last = events.at(-1)!;
    assert.equal(last.type, "finished");
    assert.match(last.type === "finished" ? last.runId : "", /^\w+$/);
    const shape = events.map((e) =>
      e.type === "stdout" || e.type === "stderr" ? `${e.step}:${e.type}:${e.text}` : "exitCode" in e ? `${e.type}:${e.exitCode}` : e.type,
    );
    assert.deepEqual(shape, ["clean-finished:0", "build-finished:0", "exec:stdout:42\n", "exec:stderr:to stderr\n", "finished:3"]);
  });

  it("answers each input request through the callback, with the line the program printed as prompt", async () => {
    await session.upload([{ path: "ask.js", data: 'const a = prompt(); const b = prompt(); console.log(`${a}+${b}`);\n' }]);
    const answers = ["1", "2"];
    const output = await collectRun(session.run({ mode: "batch", exec: "node ask.js" }, { input: () => answers.shift()! }));
    assert.deepEqual(answers, []);
    assert.equal(output.exitCode, 0);
    assert.equal(output.stdout, "1+2\n");
    assert.deepEqual(Object.keys(output.steps).sort(), ["build", "clean", "exec"]);
    assert.equal(output.steps.clean?.exitCode, 0);

    // The prompt is what stdout holds after its last newline (flushed here by the timer).
    const prompts: string[] = [];
    const code = 'process.stdout.write("line\\nName? "); await new Promise((r) => setTimeout(r, 10)); console.log(`hi ${prompt()}`)';
    const greeting = await collectRun(session.run({ mode: "query", code }, { input: ({ prompt, isPassword }) => (prompts.push(prompt), assert.equal(isPassword, false), "Kiln") }));
    assert.deepEqual(prompts, ["Name? "]);
    assert.equal(greeting.stdout, "line\nName? hi Kiln\n");
  });

  it("gathers a query's output with collectRun", async () => {
    const output = await collectRun(session.run({ mode: "query", code: "console.log('q'); console.error('e')" }, { runId: "my-query-1" }));
    assert.deepEqual({ ...output, steps: undefined }, { runId: "my-query-1", timedOut: false, exitCode: 0, stdout: "q\n", stderr: "e\n", steps: undefined });
  });

  it("throws input-required without an input callback, and leaves the session free", async () => {
    await rejectsWith(eventsOf(session.run({ mode: "query", code: "prompt('never answered')" })), 0, "input-required");
    assert.equal(await stdoutOf(session.run({ mode: "query", code: "console.log('next')" })), "next\n");
  });

  it("interrupts a run the caller leaves early, so the next run starts at once", async () => {
    // Output reaches the client when the program yields: it waits instead of spinning.
    for await (const event of session.run({ mode: "query", code: "console.log('tick'); await new Promise((r) => setTimeout(r, 60_000))" })) {
      if (event.type === "stdout") break;
    }
    assert.equal(await stdoutOf(session.run({ mode: "query", code: "console.log('after break')" })), "after break\n");
  });

  it("stops the run and throws aborted when its signal fires", async () => {
    const controller = new AbortController();
    const run = session.run({ mode: "query", code: "console.log('wait'); await new Promise((r) => setTimeout(r, 60_000))" }, { signal: controller.signal });
    const seen: string[] = [];
    await rejectsWith(
      (async () => {
        for await (const event of run) {
          seen.push(event.type);
          if (event.type === "stdout") controller.abort();
        }
      })(),
      0,
      "aborted",
    );
    assert.deepEqual(seen, ["stdout"]);
    assert.equal(await stdoutOf(session.run({ mode: "query", code: "console.log('after abort')" })), "after abort\n");
  });

  it("ends with exec-timeout past the session's step limit", async () => {
    const short = await kiln.createSession({ lang: "javascript", limits: { stepTimeoutMs: 300 } });
    const events = await eventsOf(short.run({ mode: "query", code: "while (true) {}" }));
    assert.equal(events.at(-1)?.type, "exec-timeout");
    const output = await collectRun(short.run({ mode: "query", code: "while (true) {}" }));
    assert.equal(output.timedOut, true);
    assert.equal(output.exitCode, null);
    await short.destroy();
  });

  it("maps a continue of an unknown run to 404 and a second start of a live run id to 400", async () => {
    await rejectsWith(session.execute({ mode: "continue", runId: "no-such-run", code: "" }), 404, "object-not-found");
    await rejectsWith(session.execute({ mode: "input", runId: "no-such-run", code: "x" }), 404, "object-not-found");
    const first = await session.execute({ mode: "query", runId: "twice", code: "prompt('wait')" });
    assert.equal(first.status, "waiting-input");
    await rejectsWith(session.execute({ mode: "query", runId: "twice", code: "1" }), 400, "invalid-api-params");
    const done = await session.execute({ mode: "input", runId: "twice", code: "ok" });
    assert.equal(done.status, "finished");
  });
});
