// The JavaScript/TypeScript kernel through the HTTP API (createApp + app.fetch),
// with isolates in the sandbox process as `kiln serve` runs them.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createApp, type KilnApp } from "../../src/app.ts";
import { isolateKernelFactory } from "../../src/kernels/isolate/index.ts";
import { Client, parseMixed, stdoutOf, textOf, uniqueName, untar } from "../helpers/client.ts";

let app: KilnApp;
let client: Client;

before(() => {
  const factory = isolateKernelFactory();
  assert.ok(factory, "isolated-vm must load: run with node --no-node-snapshot");
  app = createApp({ config: { flushIntervalMs: 200, stepTimeoutMs: 3000 }, kernels: [factory] });
  client = Client.forApp(app);
});

after(() => app.close());

async function session(lang = "javascript", extra: Record<string, unknown> = {}): Promise<string> {
  const res = await client.createSession({ lang, clientSessionToken: uniqueName("js"), ...extra });
  assert.equal(res.status, 201, res.text);
  return res.json.sessionId as string;
}

describe("isolate kernel over HTTP", () => {
  test("sessions are created for every alias and report the kernel's limits", async () => {
    for (const lang of ["javascript", "js", "nodejs", "node", "cr.backend.ai/stable/nodejs:20-alpine", "typescript", "ts"]) {
      const id = await session(lang);
      const info = await client.info(id);
      assert.equal(info.status, 200);
      assert.equal(info.json.resources.mem, "128m");
      await client.destroy(id);
    }
  });

  test("query runs share state like a REPL, with top-level await", async () => {
    const id = await session();
    assert.equal((await client.query(id, "let total = 1; const add = (n) => (total += n);")).final.exitCode, 0);
    const run = await client.query(id, "add(await Promise.resolve(41)); console.log(total)");
    assert.deepEqual([run.final.status, run.final.exitCode, run.stdout], ["finished", 0, "42\n"]);
    await client.destroy(id);
  });

  test("console output is Node's, stderr is separate, and an exception exits 1", async () => {
    const id = await session();
    const run = await client.query(id, "console.log({ a: [1, { b: 'c' }] }, new Set([1]));\nconsole.error(new Error('bad'));\nthrow new TypeError('boom')");
    assert.equal(run.stdout, "{ a: [ 1, { b: 'c' } ] } Set(1) { 1 }\n");
    assert.match(run.stderr, /^Error: bad\n    at REPL\d+:2:15\n/);
    assert.match(run.stderr, /TypeError: boom\n    at REPL\d+:3:7\n$/);
    assert.equal(run.final.exitCode, 1);
    await client.destroy(id);
  });

  test("output keeps its order across streams, also when a rejection nobody handled fails the run", async () => {
    const id = await session();
    const run = await client.query(id, "console.log('out'); Promise.reject(new Error('late'))");
    const items = run.results.flatMap((r) => r.console);
    assert.deepEqual(items.map(([stream]) => stream), ["stdout", "stderr"]);
    assert.equal(items[0]![1], "out\n");
    assert.match(items[1]![1], /^Error: late\n/);
    assert.equal(run.final.exitCode, 1);
    await client.destroy(id);
  });

  test("a multi-file ES module + CommonJS batch program runs from uploaded files", async () => {
    const id = await session();
    await client.put(id, {
      "main.mjs": "import { total } from './lib/sum.cjs';\nimport { label } from './lib/label.mjs';\nconsole.log(label, total([1, 2, 3]));\n",
      "lib/sum.cjs": "exports.total = (xs) => xs.reduce((a, b) => a + b, 0);\n",
      "lib/label.mjs": "export const label = 'sum:';\n",
    });
    const run = await client.batch(id, { clean: "*", build: "*", exec: "*" });
    assert.deepEqual([run.final.status, run.final.exitCode, run.stdout, run.stderr], ["finished", 0, "sum: 6\n", ""]);
    const cjs = await client.batch(id, { exec: "node lib/sum.cjs" });
    assert.equal(cjs.final.exitCode, 0);
    const unsupported = await client.batch(id, { exec: "make all" });
    assert.deepEqual([unsupported.final.exitCode, unsupported.stderr], [127, "make: unsupported command\n"]);
    await client.destroy(id);
  });

  test("TypeScript builds to .js and runs; a build error makes exec 127", async () => {
    const id = await session("typescript");
    await client.put(id, { "main.ts": "import { twice } from './util.js';\nconst n: number = twice(21);\nconsole.log(n);\n", "util.ts": "export function twice(x: number): number { return 2 * x; }\n" });
    const ok = await client.batch(id, { build: "*", exec: "*" });
    assert.deepEqual([ok.final.exitCode, ok.stdout, ok.stderr], [0, "42\n", ""]);
    assert.ok(await client.exists(id, "main.js"));
    assert.ok(await client.exists(id, "util.js"));

    const broken = await session("typescript");
    await client.put(broken, { "main.ts": "const n: number = ;\n" });
    const failed = await client.batch(broken, { build: "*", exec: "*" });
    assert.equal(failed.final.exitCode, 127);
    assert.match(failed.stderr, /main\.ts\(1,19\): error: Unexpected ";"/);
    await client.destroy(id);
    await client.destroy(broken);
  });

  test("files written by the program are in files and download at once", async () => {
    const id = await session();
    await client.put(id, { "input.csv": "a,b\n1,2\n" });
    const run = await client.query(id, "const fs = require('fs'); const [head, row] = fs.readFileSync('input.csv', 'utf8').trim().split('\\n'); fs.mkdirSync('out'); fs.writeFileSync('out/result.json', JSON.stringify({ head, row }))");
    assert.equal(run.final.exitCode, 0, run.stderr);
    const listing = await client.ls(id, "out");
    assert.equal(listing.get("result.json")?.size, 26);
    assert.equal(textOf(await client.readFile(id, "out/result.json")), '{"head":"a,b","row":"1,2"}');
    const res = await client.get(`/session/${id}/download`, { query: { files: "out" } });
    assert.equal(res.status, 200, res.text);
    const [part] = parseMixed(res);
    const entries = await untar(part!.body);
    const file = entries.find((e) => e.name.endsWith("result.json"));
    assert.equal(textOf(file!.data), '{"head":"a,b","row":"1,2"}');
    await client.destroy(id);
  });

  test("input round trip: prompt() waits for input and resumes with the answer", async () => {
    const id = await session();
    const run = await client.query(id, "const a = prompt('first?'); const b = prompt('second?'); console.log(`${a}-${b}`)", { inputs: ["x", "y"] });
    assert.deepEqual(run.statuses.filter((s) => s === "waiting-input").length, 2);
    assert.equal(run.final.exitCode, 0);
    assert.match(run.stdout, /x-y\n$/);
    await client.destroy(id);
  });

  test("each prompt's text arrives with its own waiting-input, not after it", async () => {
    const id = await session();
    const run = await client.query(id, "console.log('before'); const a = prompt('first?'); console.log('between'); const b = prompt('second?'); console.log(a + b)", { inputs: ["x", "y"] });
    const waits = run.results.filter((r) => r.status === "waiting-input").map(stdoutOf);
    assert.equal(waits.length, 2);
    assert.match(waits[0]!, /first\?/);
    assert.match(waits[1]!, /between\n[^]*second\?/);
    await client.destroy(id);
  });

  test("what a program printed before spinning to its time limit reaches the client", async () => {
    const id = await session("javascript", { config: { limits: { stepTimeoutMs: 500 } } });
    const run = await client.query(id, "console.log('started'); while (true) {}");
    assert.equal(run.final.status, "exec-timeout");
    assert.equal(run.stdout, "started\n");
    await client.destroy(id);
  });

  test("a run past its time gets exec-timeout; the session goes on with its files", async () => {
    const id = await session();
    await client.query(id, "require('fs').writeFileSync('kept.txt', 'yes')");
    const started = Date.now();
    const run = await client.query(id, "while (true) {}");
    assert.equal(run.final.status, "exec-timeout");
    assert.ok(Date.now() - started < 8000);
    const after = await client.query(id, "console.log(require('fs').readFileSync('kept.txt', 'utf8'))");
    assert.deepEqual([after.final.exitCode, after.stdout], [0, "yes\n"]);
    await client.destroy(id);
  });

  test("a heap past its limit gives 'memory limit exceeded' and 137; the session recovers", async () => {
    const id = await session("javascript", { config: { resources: { mem: "32m" } } });
    await client.put(id, { "kept.txt": "kept" });
    for (const bomb of ["const a = []; while (true) a.push({ n: a.length })", "const m = new Map(); for (let i = 0; ; i++) m.set(i, [i])"]) {
      const run = await client.query(id, bomb);
      assert.deepEqual([run.final.exitCode, run.stderr], [137, "memory limit exceeded\n"], bomb);
      const next = await client.query(id, "console.log(require('fs').readFileSync('kept.txt', 'utf8'))");
      assert.deepEqual([next.final.exitCode, next.stdout], [0, "kept\n"]);
    }
    await client.destroy(id);
  });

  test("escape attempts fail", async () => {
    const id = await session();
    const run = await client.query(
      id,
      `const F = this.constructor.constructor;
       const results = [];
       for (const probe of ['return process.binding("spawn_sync")', 'return require("child_process").execSync("id")', 'return typeof process.dlopen', 'return process.mainModule', 'return typeof fetch']) {
         try { results.push(String(F(probe)())) } catch (e) { results.push('threw') }
       }
       Error.prepareStackTrace = (e, frames) => frames.map((f) => typeof f.getThis()).join();
       try { require('fs').readFileSync('/etc/passwd') } catch (e) { results.push(e.code, String(e.stack).includes('object')) }
       console.log(results.join(' '))`,
    );
    assert.equal(run.stdout, "threw threw undefined undefined undefined ENOENT false\n", run.stderr);
    await client.destroy(id);
  });

  test("two sessions cannot see each other's globals or files", async () => {
    const a = await session();
    const b = await session();
    await client.query(a, "globalThis.shared = 'a'; require('fs').writeFileSync('mine.txt', 'a')");
    const run = await client.query(b, "console.log(typeof shared, require('fs').existsSync('mine.txt'))");
    assert.equal(run.stdout, "undefined false\n");
    assert.equal(await client.exists(b, "mine.txt"), false);
    await client.destroy(a);
    await client.destroy(b);
  });

  test("output past the session's limit is cut with one note, and the next run is whole", async () => {
    const id = await session("javascript", { config: { limits: { outputBytes: 10_000 } } });
    const run = await client.query(id, "for (let i = 0; i < 100000; i++) console.log('line', i)");
    assert.equal(run.final.exitCode, 0);
    assert.ok(run.stdout.length <= 10_000, `${run.stdout.length} characters came through`);
    assert.equal(run.stderr, "\n[output limit of 10000 bytes per run reached; further output is dropped]\n");
    assert.equal((await client.query(id, "console.log('fresh run')")).stdout, "fresh run\n");
    await client.destroy(id);
  });

  test("completion and restart work through the API", async () => {
    const id = await session();
    await client.query(id, "var config = { verbose: true, version: 2 }");
    const res = await client.post(`/session/${id}/complete`, { json: { code: "config.ver", options: {} } });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json.result.completions, ["verbose", "version"]);
    assert.equal((await client.restart(id)).status, 204);
    assert.equal((await client.query(id, "console.log(typeof config)")).stdout, "undefined\n");
    await client.destroy(id);
  });
});
