// The QuickJS (WebAssembly) JavaScript/TypeScript kernel through the HTTP API
// (createApp + app.fetch), as a server without isolated-vm serves it. Runs
// under Node and Bun.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createApp, type KilnApp } from "../../src/app.ts";
import { quickjsKernelFactory } from "../../src/kernels/quickjs/index.ts";
import { Client, parseMixed, textOf, uniqueName, untar } from "../helpers/client.ts";

let app: KilnApp;
let client: Client;

before(() => {
  app = createApp({ config: { flushIntervalMs: 200, stepTimeoutMs: 20_000 }, kernels: [quickjsKernelFactory()] });
  client = Client.forApp(app);
});

after(() => app.close());

async function session(lang = "javascript", extra: Record<string, unknown> = {}): Promise<string> {
  const res = await client.createSession({ lang, clientSessionToken: uniqueName("qjs"), ...extra });
  assert.equal(res.status, 201, res.text);
  return res.json.sessionId as string;
}

describe("quickjs kernel over HTTP", () => {
  test("serves javascript and typescript with its own limits", async () => {
    const health = await client.get("/healthz");
    assert.deepEqual(health.json.kernels, { javascript: "quickjs", typescript: "quickjs" });
    const id = await session("ts");
    assert.equal((await client.info(id)).json.resources.mem, "128m");
    await client.destroy(id);
  });

  test("query runs share state like a REPL, with top-level await", async () => {
    const id = await session();
    assert.equal((await client.query(id, "let total = 1; const add = (n) => (total += n);")).final.exitCode, 0);
    const run = await client.query(id, "add(await Promise.resolve(41)); const later = await new Promise((r) => setTimeout(() => r('timer'), 5)); console.log(total, later)");
    assert.deepEqual([run.final.status, run.final.exitCode, run.stdout, run.stderr], ["finished", 0, "42 timer\n", ""]);
    assert.equal((await client.query(id, "console.log(later.toUpperCase())")).stdout, "TIMER\n");
    await client.destroy(id);
  });

  test("console formats values, stderr is separate, an exception exits 1 and process.exit sets the code", async () => {
    const id = await session("javascript", { config: { environ: { GREETING: "hi" } } });
    const run = await client.query(id, "console.log({ a: [1, { b: 'c' }] }, new Set([1]), 'x', 10n, process.env.GREETING);\nconsole.log('%s has %d items', 'cart', 3);\nconsole.error('oops');\nthrow new TypeError('boom')");
    assert.equal(run.stdout, "{ a: [ 1, { b: 'c' } ] } Set(1) { 1 } x 10n hi\ncart has 3 items\n");
    assert.match(run.stderr, /^oops\nTypeError: boom\n    at /);
    assert.equal(run.final.exitCode, 1);
    const exited = await client.query(id, "process.stdout.write('partial'); process.exit(3); console.log('not reached')");
    assert.deepEqual([exited.final.exitCode, exited.stdout], [3, "partial"]);
    assert.equal((await client.query(id, "1 + 1")).final.exitCode, 0);
    await client.destroy(id);
  });

  test("files written by the program are listed and downloadable", async () => {
    const id = await session();
    await client.put(id, { "input.csv": "a,b\n1,2\n" });
    const run = await client.query(
      id,
      "const fs = require('fs'); const path = require('path'); const [head, row] = fs.readFileSync('input.csv', 'utf8').trim().split('\\n'); fs.mkdirSync('out'); fs.writeFileSync(path.join('out', 'result.json'), JSON.stringify({ head, row })); console.log(fs.existsSync('out/result.json'), fs.readdirSync('out'), fs.existsSync('/etc/passwd'))",
    );
    assert.deepEqual([run.final.exitCode, run.stdout, run.stderr], [0, "true [ 'result.json' ] false\n", ""]);
    const res = await client.get(`/session/${id}/download`, { query: { files: "out" } });
    assert.equal(res.status, 200, res.text);
    const entries = await untar(parseMixed(res)[0]!.body);
    assert.equal(textOf(entries.find((e) => e.name.endsWith("result.json"))!.data), '{"head":"a,b","row":"1,2"}');
    const missing = await client.query(id, "try { require('fs').readFileSync('nope.txt') } catch (e) { console.log(e.code) }");
    assert.equal(missing.stdout, "ENOENT\n");
    await client.destroy(id);
  });

  test("a batch program of ES modules, CommonJS and TypeScript runs from uploaded files", async () => {
    const id = await session("typescript");
    await client.put(id, {
      "main.ts": "import { total } from './lib/sum.cjs';\nimport { label } from './lib/label.js';\nimport { readFileSync } from 'node:fs';\nconst n: number = total([1, 2, 3]);\nconsole.log(label, n, readFileSync('lib/data.json', 'utf8').length, process.argv.slice(2));\n",
      "lib/sum.cjs": "const { twice } = require('./twice');\nexports.total = (xs) => twice(xs.reduce((a, b) => a + b, 0)) / 2;\n",
      "lib/twice.js": "module.exports = { twice: (x) => 2 * x };\n",
      "lib/label.ts": "export const label: string = 'sum:';\n",
      "lib/data.json": '{ "answer": 42 }',
    });
    const run = await client.batch(id, { clean: "*", build: "*", exec: "*" });
    assert.deepEqual([run.final.status, run.final.exitCode, run.stdout, run.stderr], ["finished", 0, "sum: 6 16 []\n", ""]);
    assert.ok(await client.exists(id, "main.js"));
    const args = await client.batch(id, { exec: "node main.ts one 'two words'" });
    assert.equal(args.stdout, "sum: 6 16 [ 'one', 'two words' ]\n");
    const unsupported = await client.batch(id, { exec: "make all" });
    assert.deepEqual([unsupported.final.exitCode, unsupported.stderr], [127, "make: unsupported command\n"]);
    await client.destroy(id);
  });

  test("prompt() waits for input and resumes with the answer", async () => {
    const id = await session();
    const run = await client.query(id, "const a = prompt('first?'); const b = prompt('second?'); console.log(`${a}-${b}`)", { inputs: ["x", "y"] });
    assert.equal(run.statuses.filter((s) => s === "waiting-input").length, 2);
    assert.equal(run.final.exitCode, 0);
    assert.match(run.stdout, /x-y\n$/);
    await client.destroy(id);
  });

  test("a heap past its limit gives 'memory limit exceeded' and 137; the session recovers", async () => {
    const id = await session("javascript", { config: { resources: { mem: "16m" } } });
    await client.put(id, { "kept.txt": "kept" });
    await client.query(id, "var before = 1");
    const run = await client.query(id, "const a = []; while (true) a.push({ n: a.length })");
    assert.deepEqual([run.final.exitCode, run.stderr], [137, "memory limit exceeded\n"]);
    const next = await client.query(id, "console.log(require('fs').readFileSync('kept.txt', 'utf8'), typeof before)");
    assert.deepEqual([next.final.exitCode, next.stdout], [0, "kept undefined\n"]);
    await client.destroy(id);
  });

  test("a run past its time gets exec-timeout; the session goes on with its files", async () => {
    const id = await session("javascript", { config: { limits: { stepTimeoutMs: 1000 } } });
    await client.query(id, "require('fs').writeFileSync('kept.txt', 'yes')");
    const run = await client.query(id, "while (true) {}");
    assert.equal(run.final.status, "exec-timeout");
    const after = await client.query(id, "console.log(require('fs').readFileSync('kept.txt', 'utf8'))");
    assert.deepEqual([after.final.exitCode, after.stdout], [0, "yes\n"]);
    await client.destroy(id);
  });

  test("an interrupt stops a waiting program with 130 and the next run works", async () => {
    const id = await session();
    const first = await client.exec(id, { mode: "query", runId: "spin", code: "setInterval(() => {}, 50)" });
    assert.equal(first.status, "continued");
    assert.equal((await client.interrupt(id)).status, 204);
    let result = first;
    while (result.status === "continued") result = await client.exec(id, { mode: "continue", runId: "spin", code: "" });
    assert.deepEqual([result.status, result.exitCode], ["finished", 130]);
    assert.equal((await client.query(id, "console.log('again')")).stdout, "again\n");
    await client.destroy(id);
  });
});
