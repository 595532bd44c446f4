// Attacks on the JavaScript/TypeScript kernel through the HTTP API, with
// isolates in the sandbox process as `kiln serve` runs them. Every test makes
// an attack fail and then checks that the server still serves a normal run.
// Taxonomy after vm2's docs/ATTACKS.md and isolated-vm's own tests (see
// /work/shared/reference/peers.md §4).

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { createApp, type KilnApp } from "../../src/app.ts";
import { isolateKernelFactory } from "../../src/kernels/isolate/index.ts";
import { Client, uniqueName, type RunLog } from "../helpers/client.ts";

const STEP_MS = 1500;
const LONG_STEP_MS = 15_000;
const QUOTA_BYTES = 4 * 1024 * 1024;

// Two servers, each with its own sandbox process: most attacks run against a 1.5 s step limit so
// that timeouts are quick; attacks that restart the sandbox process, and the 10 s flood, run where
// the limit leaves room for a restart (the new process's start is charged to the next run).
let app: KilnApp;
let client: Client;
let longApp: KilnApp;
let long: Client;

before(() => {
  const factory = isolateKernelFactory();
  assert.ok(factory, "isolated-vm must load: run with node --no-node-snapshot");
  app = createApp({ config: { flushIntervalMs: 100, stepTimeoutMs: STEP_MS, sessionMaxBytes: QUOTA_BYTES }, kernels: [factory] });
  client = Client.forApp(app);
  longApp = createApp({ config: { flushIntervalMs: 100, stepTimeoutMs: LONG_STEP_MS }, kernels: [isolateKernelFactory({ defaults: { stepTimeoutMs: LONG_STEP_MS } })!] });
  long = Client.forApp(longApp);
});

after(async () => {
  await app.close();
  await longApp.close();
});

async function session(extra: Record<string, unknown> = {}, on: Client = client): Promise<string> {
  const res = await on.createSession({ lang: "javascript", clientSessionToken: uniqueName("atk"), ...extra });
  assert.equal(res.status, 201, res.text);
  return res.json.sessionId as string;
}

/** A normal run in `id` gives the normal answer: the attack left the server (and session) working. */
async function healthy(id: string, label: string, on: Client = client): Promise<void> {
  const run = await on.query(id, "console.log([6 * 7, typeof require('fs').readFileSync, typeof WebAssembly].join(' '))");
  assert.deepEqual(
    [run.final.status, run.final.exitCode, run.stdout, run.stderr],
    ["finished", 0, "42 function undefined\n", ""],
    `a normal run after ${label}`,
  );
}

/** The attacked session and a brand-new one both work. */
async function serverHealthy(id: string, label: string, on: Client = client): Promise<void> {
  await healthy(id, label, on);
  const fresh = await session({}, on);
  await healthy(fresh, `${label} (fresh session)`, on);
  await on.destroy(fresh);
}

function outcome(run: RunLog): [string, number | null] {
  return [run.final.status, run.final.exitCode];
}

// ---- the sandbox process, seen from /proc ----

function procStat(pid: number | string): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** Live sandbox processes (kernels/isolate/child.ts) of the main server, or of the long one. */
function sandboxPids(which: "main" | "long" = "main"): number[] {
  const pids: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = procStat(name);
      if (Number(stat[1]) !== process.pid || stat[0] === "Z") continue;
      if (!readFileSync(`/proc/${name}/cmdline`, "utf8").includes("isolate/child.ts")) continue;
      const isLong = readFileSync(`/proc/${name}/environ`, "utf8").includes(`"stepTimeoutMs":${LONG_STEP_MS}`);
      if (isLong === (which === "long")) pids.push(Number(name));
    } catch {
      // Gone while we looked.
    }
  }
  return pids;
}

function cpuSeconds(pid: number): number {
  try {
    const stat = procStat(pid);
    return (Number(stat[11]) + Number(stat[12])) / 100;
  } catch {
    return 0;
  }
}

/** CPU seconds the sandbox processes burn over `ms` while no run is going on. */
async function idleCpu(ms = 1000): Promise<number> {
  const pids = sandboxPids();
  const before = pids.map(cpuSeconds);
  await new Promise((resolve) => setTimeout(resolve, ms));
  return pids.reduce((sum, pid, i) => sum + Math.max(0, cpuSeconds(pid) - before[i]!), 0);
}

function race<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]);
}

describe("isolate kernel under attack", () => {
  test("constructor chains from every function the runtime exposes reach only the isolate's own Function", async () => {
    const id = await session();
    const run = await client.query(
      id,
      `const fs = require('fs');
       const errors = [];
       try { fs.readFileSync('/etc/passwd') } catch (e) { errors.push(e) }
       try { require('child_process') } catch (e) { errors.push(e) }
       errors.push(await fs.promises.readFile('/etc/shadow').catch((e) => e));
       errors.push(await import('node:child_process').catch((e) => e));
       errors.push(await new Promise((resolve) => fs.readFile('/x', (e) => resolve(e))));
       const fns = {
         'console.log': console.log, require, 'require.resolve': require.resolve, readFileSync: fs.readFileSync,
         'fs.promises.readFile': fs.promises.readFile, writeFileSync: fs.writeFileSync, setTimeout, setInterval,
         queueMicrotask, 'process.stdout.write': process.stdout.write, 'process.exit': process.exit, prompt,
         Buffer, 'Buffer.from': Buffer.from, EventEmitter: require('events'), 'util.inspect': require('util').inspect,
         'module.createRequire': require('module').createRequire, TextEncoder,
         ...Object.fromEntries(Object.entries(globalThis[Symbol.for('kiln.internal')])),
         ...Object.fromEntries(errors.map((e, i) => ['error' + i, e.constructor])),
       };
       const bad = [];
       for (const [name, f] of Object.entries(fns)) {
         const F = f.constructor.constructor;
         if (F !== Function) bad.push(name + ': a foreign Function');
         const got = F('return [typeof process.dlopen, typeof process._linkedBinding, process.pid, this === globalThis, typeof globalThis.fetch].join()')();
         if (got !== 'undefined,undefined,1,true,undefined') bad.push(name + ': ' + got);
         try { F('return process.binding("spawn_sync")')(); bad.push(name + ': process.binding works') } catch {}
         try { F('return require("child_process")')(); bad.push(name + ': child_process loads') } catch {}
       }
       for (const e of errors) if (Object.getPrototypeOf(e) !== Error.prototype) bad.push('a host error is not an isolate Error: ' + e.message);
       console.log(Object.keys(fns).length, bad.length ? bad.join('\\n') : 'contained')`,
    );
    assert.deepEqual(outcome(run), ["finished", 0], run.stderr);
    assert.match(run.stdout, /^\d+ contained\n$/);
    await serverHealthy(id, "constructor-chain probes");
    await client.destroy(id);
  });

  test("Error.prepareStackTrace and captureStackTrace get no runtime receivers or functions, and broken ones only fail the run", async () => {
    const id = await session();
    const run = await client.query(
      id,
      `const leaks = [];
       Error.prepareStackTrace = (error, frames) => {
         for (const f of frames) {
           if (f.getFileName() === 'node:internal/kiln/runtime' || f.isNative()) {
             if (f.getThis() !== undefined || f.getFunction() !== undefined) leaks.push(f.getFunctionName() + ' in ' + f.getFileName());
           }
         }
         return 'stack';
       };
       const fs = require('fs');
       const probes = [
         () => fs.readFileSync('/nope'), () => require('nope'), () => fs.writeFileSync('/etc/x', 'y'), () => Buffer.alloc(-1),
         () => console.log({ get a() { throw new Error('getter') }, [Symbol.for('nodejs.util.inspect.custom')]() { throw new Error('custom') } }),
         () => setTimeout('not a function'), () => process.chdir('/'), () => JSON.parse('{'), () => require('util').inspect(new Proxy({}, { get() { throw new Error('trap') } })),
       ];
       for (const p of probes) { try { p() } catch (e) { void e.stack } }
       const target = {};
       Error.captureStackTrace(target);
       void target.stack;
       const fromHost = await fs.promises.readFile('/nope').catch((e) => e);
       Error.captureStackTrace(fromHost);
       void fromHost.stack;
       delete Error.prepareStackTrace;
       console.log(leaks.length === 0 ? 'no leaks' : leaks.join(', '))`,
    );
    assert.deepEqual(outcome(run), ["finished", 0], run.stderr);
    assert.match(run.stdout, /(^|\n)no leaks\n$/);

    for (const code of [
      "Error.prepareStackTrace = () => { throw new Error('from prepareStackTrace') }; throw new Error('x')",
      "Error.prepareStackTrace = () => 42; throw new TypeError('x')",
      "Error.prepareStackTrace = () => { while (true) {} }; require('fs').readFileSync('/nope')",
    ]) {
      const broken = await client.query(id, code);
      assert.ok(["finished", "exec-timeout"].includes(broken.final.status), code);
      if (broken.final.status === "finished") assert.equal(broken.final.exitCode, 1, code);
      await client.query(id, "delete Error.prepareStackTrace");
      await serverHealthy(id, code);
    }
    await client.destroy(id);
  });

  test("Proxies, getters, Symbol.toPrimitive and huge strings handed to host callbacks are handled inside the isolate", async () => {
    const id = await session();
    const run = await client.query(
      id,
      `const fs = require('fs');
       const out = [];
       const tryIt = (label, fn) => { try { out.push(label + ' ok ' + String(fn()).slice(0, 20)) } catch (e) { out.push(label + ' ' + (e.code ?? e.message)) } };
       const looping = { toString() { while (true) {} }, valueOf() { while (true) {} } };
       const trap = new Proxy({}, { get(_, k) { throw new Error('trap ' + String(k)) } });
       tryIt('looping path', () => fs.writeFileSync(looping, 'x'));
       tryIt('proxy path', () => fs.writeFileSync(trap, 'x'));
       tryIt('toPrimitive path', () => fs.readFileSync({ [Symbol.toPrimitive]: () => '/etc/passwd' }));
       tryIt('file URL to /etc', () => fs.readFileSync({ protocol: 'file:', pathname: '/etc/passwd' }, 'utf8'));
       tryIt('proxy data', () => fs.writeFileSync('d.txt', trap));
       tryIt('toPrimitive data', () => fs.writeFileSync('d.txt', { [Symbol.toPrimitive]: () => 'x' }));
       tryIt('huge path', () => fs.writeFileSync('p'.repeat(4e6), 'x'));
       tryIt('huge data', () => { fs.writeFileSync('big.txt', 'z'.repeat(2e6)); return fs.statSync('big.txt').size });
       tryIt('proxy require', () => require(trap));
       tryIt('proxy stdout', () => process.stdout.write(trap));
       tryIt('proxy prompt', () => prompt({ toString: () => 'q?' }));
       console.log(new Proxy({}, { get() { throw new Error('trap') }, ownKeys() { throw new Error('keys') } }));
       console.log(new Proxy([1, 2], {}), { get g() { while (true) {} } });
       console.log(out.join('\\n'))`,
      { inputs: ["answer"] },
    );
    assert.deepEqual(outcome(run), ["finished", 0], run.stderr);
    assert.ok(run.stdout.startsWith("q? "), "the prompt text is shown");
    const lines = run.stdout.slice(3).trim().split("\n");
    assert.match(lines[0]!, /^\[Inspection failed: trap/);
    assert.equal(lines[1], "[ 1, 2 ] { g: [Getter] }");
    assert.deepEqual(lines.slice(2), [
      "looping path ERR_INVALID_ARG_TYPE",
      "proxy path trap protocol",
      "toPrimitive path ERR_INVALID_ARG_TYPE",
      "file URL to /etc ENOENT",
      "proxy data ERR_INVALID_ARG_TYPE",
      "toPrimitive data ERR_INVALID_ARG_TYPE",
      "huge path EACCES",
      "huge data ok 2000000",
      "proxy require trap startsWith",
      "proxy stdout ERR_INVALID_ARG_TYPE",
      "proxy prompt ok answer",
    ]);
    await serverHealthy(id, "values with traps passed to host callbacks");
    await client.destroy(id);
  });

  test("prototype pollution stays in its own context: not the host's formatting, not batch runs, not other sessions", async () => {
    const a = await session();
    const b = await session();
    const polluted = await client.query(
      a,
      `Object.defineProperty(Object.prototype, 'polluted', { get() { while (true) {} }, enumerable: true, configurable: true });
       Object.prototype.t = 'raw'; Object.prototype.s = 'PWNED'; Object.prototype.f = [{ t: 'raw', s: 'PWNED' }];
       Object.prototype.__kiln = 1; Array.prototype.extra = 'x';
       Object.prototype.toString = () => 'PWNED'; Array.prototype.join = () => 'PWNED'; JSON.stringify = () => 'PWNED';
       Function.prototype.call = function () { return 'PWNED' }; Function.prototype.apply = function () { return 'PWNED' };
       Promise.prototype.then = function () { return 'PWNED' };
       console.log({ a: [1, { b: new Map([[1, new Set(['c'])]]) }] }, [1, 2], new Error('e').message, 'plain')`,
    );
    assert.deepEqual(
      [...outcome(polluted), polluted.stdout, polluted.stderr],
      ["finished", 0, "{ a: [ 1, { b: [Map] } ] } [ 1, 2 ] e plain\n", ""],
    );
    const other = await client.query(b, "console.log(typeof ({}).polluted, [].extra, ({}).toString(), [1, 2].join('-'), JSON.stringify({ a: 1 }))");
    assert.equal(other.stdout, "undefined undefined [object Object] 1-2 {\"a\":1}\n", other.stderr);
    await client.put(a, { "main.js": "console.log(typeof ({}).polluted, [].extra, [1, 2].join('-'), JSON.stringify({ a: 1 }))\n" });
    const batch = await client.batch(a, { exec: "*" });
    assert.deepEqual([batch.final.exitCode, batch.stdout], [0, "undefined undefined 1-2 {\"a\":1}\n"], batch.stderr);
    await healthy(b, "another session's pollution");
    await client.destroy(a);
    await client.destroy(b);
  });

  test("another session's globals and files are out of reach, and process.env holds only the session's environ", async () => {
    const a = await session({ config: { environ: { MINE: "a" } } });
    const b = await session({ config: { environ: { THEIRS: "b" } } });
    await client.query(a, "globalThis.secret = 'top'; var secretVar = 'top'; require('fs').writeFileSync('secret.txt', 'top'); require('fs').mkdirSync('d'); require('fs').writeFileSync('d/s.txt', 'top')");
    const run = await client.query(
      b,
      `const fs = require('fs');
       const seen = [typeof secret, typeof globalThis.secretVar, Object.keys(process.env).join(',')];
       for (const p of ['secret.txt', '/home/work/secret.txt', '../${a}/secret.txt', '/home/work/../${a}/secret.txt', '/home/${a}/secret.txt',
                        '/tmp', '/proc/self/environ', '/proc/self/cmdline', 'file:///etc/passwd', '/etc/passwd', '../../../../etc/passwd', 'd/s.txt']) {
         try { seen.push(p + '=' + String(fs.readFileSync(p, 'utf8')).slice(0, 10)) } catch (e) { seen.push(p + ':' + e.code) }
       }
       for (const d of ['/', '/home', '/home/work/..', '/proc']) {
         try { seen.push(d + '=' + fs.readdirSync(d).join('|')) } catch (e) { seen.push(d + ':' + e.code) }
       }
       console.log(seen.join('\\n'))`,
    );
    assert.deepEqual(outcome(run), ["finished", 0], run.stderr);
    const lines = run.stdout.trim().split("\n");
    assert.deepEqual(lines.slice(0, 3), ["undefined", "undefined", "THEIRS"]);
    for (const line of lines.slice(3)) assert.match(line, /:(ENOENT|EACCES)$/, line);
    assert.equal(await client.exists(b, "secret.txt"), false);
    await healthy(a, "the neighbour's probes");
    await healthy(b, "probing the neighbour");
    await client.destroy(a);
    await client.destroy(b);
  });

  test("host modules, bindings and files outside the session cannot be loaded by require, import() or static import", async () => {
    const id = await session();
    const run = await client.query(
      id,
      `const out = [];
       const tryIt = (label, fn) => { try { const v = fn(); out.push(label + ' LOADED ' + typeof v) } catch (e) { out.push(label + ' ' + (e.code ?? e.message.slice(0, 30))) } };
       for (const spec of ['child_process', 'node:child_process', 'worker_threads', 'vm', 'node:vm', 'v8', 'inspector', 'net', 'http', 'os', 'module/../child_process',
                           '/etc/passwd', '../../..', '../../../etc/passwd', '/proc/self/environ', 'isolated-vm', 'tsx', 'hono', '/work/main/package.json',
                           'file:///etc/passwd', '/home/work/../../etc/hostname']) tryIt(spec, () => require(spec));
       tryIt('createRequire', () => require('module').createRequire('/etc/')('./passwd'));
       tryIt('requireFrom', () => globalThis[Symbol.for('kiln.internal')].requireFrom('/etc/passwd', '/etc/x'));
       tryIt('requireFrom workX', () => globalThis[Symbol.for('kiln.internal')].requireFrom('pkg', '/home/workX/node_modules/a.js'));
       tryIt('process.binding', () => process.binding('fs'));
       tryIt('process.dlopen', () => process.dlopen({}, '/tmp/x.node'));
       tryIt('module._load', () => module.constructor._load('child_process'));
       tryIt('mainModule', () => process.mainModule.require('child_process'));
       for (const spec of ['node:child_process', 'node:vm', 'data:text/javascript,export default 1', 'file:///etc/passwd', '/etc/passwd', '../../..']) {
         const r = await import(spec).then(() => 'LOADED', (e) => e.code ?? e.message.slice(0, 30));
         out.push('import ' + spec + ' ' + r);
       }
       const shim = await import('node:fs');
       out.push('node:fs is the shim ' + (shim.default === require('fs')) + ' ' + (await shim.promises.readFile('/etc/passwd').catch((e) => e.code)));
       console.log(out.join('\\n'))`,
    );
    assert.deepEqual(outcome(run), ["finished", 0], run.stderr);
    const lines = run.stdout.trim().split("\n");
    assert.ok(!run.stdout.includes("LOADED"), run.stdout);
    assert.equal(lines.at(-1), "node:fs is the shim true ENOENT");

    await client.put(id, {
      "esm-cp.mjs": "import { execSync } from 'child_process';\nconsole.log(execSync('id').toString());\n",
      "esm-passwd.mjs": "import passwd from '/etc/passwd';\nconsole.log(passwd);\n",
      "esm-up.mjs": "import x from '../../../etc/hostname';\nconsole.log(x);\n",
      "cjs-vm.cjs": "const vm = require('vm');\nconsole.log(vm.runInNewContext('process'));\n",
    });
    for (const file of ["esm-cp.mjs", "esm-passwd.mjs", "esm-up.mjs", "cjs-vm.cjs"]) {
      const batch = await client.batch(id, { exec: `node ${file}` });
      assert.equal(batch.final.exitCode, 1, `${file}: ${batch.stdout} ${batch.stderr}`);
      assert.match(batch.stderr, /Cannot find (module|package)|not available in this sandbox/, file);
      assert.equal(batch.stdout, "", file);
    }
    await serverHealthy(id, "module-loading probes");
    await client.destroy(id);
  });

  test("SharedArrayBuffer and Atomics cannot disturb the synchronous bridge", async () => {
    const id = await session();
    await client.put(id, {
      "main.js": `const fs = require('fs');
// The runtime must have kept its own Atomics and Int32Array: replacing them breaks nothing.
const realWait = Atomics.wait;
const RealInt32Array = Int32Array;
Atomics.wait = () => 'ok'; Atomics.store = () => 0; Atomics.notify = () => 0; Atomics.load = () => 1;
globalThis.Int32Array = function () { throw new Error('no') };
for (let i = 0; i < 20; i++) fs.writeFileSync('f' + i + '.txt', 'content ' + i);
const got = [];
for (let i = 0; i < 20; i++) got.push(fs.readFileSync('f' + i + '.txt', 'utf8'));
// Racing many promise-form operations: every answer lands on its own call.
Promise.all(Array.from({ length: 20 }, (_, i) => fs.promises.readFile('f' + (19 - i) + '.txt', 'utf8'))).then((all) => {
  const ordered = all.every((text, i) => text === 'content ' + (19 - i)) && got.every((text, i) => text === 'content ' + i);
  // A SharedArrayBuffer-backed write is a copy: changing the memory later does not change the file.
  const shared = new Uint8Array(new SharedArrayBuffer(8));
  shared.fill(65);
  fs.writeFileSync('shared.bin', shared);
  shared.fill(66);
  process.stdout.write(shared.subarray(0, 1));
  console.log(' ' + ordered + ' ' + fs.readFileSync('shared.bin', 'latin1'));
  // Waking a buffer nobody waits on, or waiting with a timeout, does nothing to the bridge.
  const mine = new RealInt32Array(new SharedArrayBuffer(4));
  console.log(realWait.call(Atomics, mine, 0, 0, 10), fs.existsSync('shared.bin'));
});
`,
    });
    const batch = await client.batch(id, { exec: "node main.js" });
    assert.deepEqual([batch.final.exitCode, batch.stdout, batch.stderr], [0, "B true AAAAAAAA\ntimed-out true\n", ""]);

    // Blocking the isolate's thread on a private buffer is just an infinite wait: the run times out.
    const waiting = await client.query(id, "Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0)");
    assert.equal(waiting.final.status, "exec-timeout");
    await serverHealthy(id, "Atomics misuse");
    await client.destroy(id);
  });

  test("WebAssembly is absent from REPL, CommonJS and ES module programs", async () => {
    const id = await session();
    const probe = "[typeof WebAssembly, typeof globalThis.WebAssembly, Object.getOwnPropertyNames(globalThis).includes('WebAssembly')].join(' ')";
    const repl = await client.query(id, `console.log(${probe})`);
    await client.put(id, { "a.cjs": `console.log(${probe})\n`, "b.mjs": `console.log(${probe})\n` });
    const cjs = await client.batch(id, { exec: "node a.cjs" });
    const esm = await client.batch(id, { exec: "node b.mjs" });
    for (const run of [repl, cjs, esm]) assert.deepEqual([run.final.exitCode, run.stdout], [0, "undefined undefined false\n"], run.stderr);
    await healthy(id, "WebAssembly probes");
    await client.destroy(id);
  });

  test("memory bombs end in 137 or a RangeError and the server goes on", async () => {
    const id = await session({ config: { resources: { mem: "32m" } } }, long);
    await long.put(id, { "kept.txt": "kept" });
    const bombs: [string, RegExp][] = [
      ["let s = 'x'; while (true) s += s", /RangeError: Invalid string length|memory limit exceeded/],
      ["const a = []; while (true) a.push(new Float64Array(1e6))", /RangeError: Array buffer allocation failed|memory limit exceeded/],
      ["new Uint8Array(2 ** 31)", /RangeError|memory limit exceeded/],
      ["const a = []; while (true) a.push({ n: a.length, s: 'x' + a.length })", /memory limit exceeded/],
      ["const all = []; for (;;) { const o = {}; for (let i = 0; i < 1000; i++) o['k' + i] = i; all.push(o) }", /memory limit exceeded/],
      ["const m = new Map(); for (let i = 0; ; i++) m.set('key' + i, { i })", /memory limit exceeded/],
      ["const keep = [], s = JSON.stringify(Array.from({ length: 2e5 }, (_, i) => i)); for (;;) keep.push(JSON.parse(s))", /memory limit exceeded|RangeError/],
    ];
    for (const [bomb, expected] of bombs) {
      const run = await long.query(id, `{ ${bomb} }`);
      // A bomb slower than the step's limit is stopped by it: just as contained.
      if (run.final.status !== "exec-timeout") {
        assert.equal(run.final.status, "finished", bomb);
        assert.ok([1, 137].includes(run.final.exitCode!), `${bomb}: ${run.final.exitCode}`);
        assert.match(run.stderr, expected, bomb);
      }
      const next = await long.query(id, "console.log(require('fs').readFileSync('kept.txt', 'utf8'))");
      assert.deepEqual([next.final.exitCode, next.stdout], [0, "kept\n"], `after ${bomb}: ${next.stderr}`);
    }
    await serverHealthy(id, "memory bombs", long);
    await long.destroy(id);
  });

  test("resizable and growable buffers cannot reserve the sandbox process's address space away", async () => {
    const bystander = await session({}, long);
    await long.query(bystander, "globalThis.kept = 'still here'");
    const id = await session({}, long);
    const run = await long.query(
      id,
      `const kept = [];
       let error = 'none';
       try {
         for (let i = 0; i < 100000; i++) kept.push(new ArrayBuffer(1, { maxByteLength: 2 ** 32 }), new SharedArrayBuffer(1, { maxByteLength: 2 ** 32 }));
       } catch (e) { error = e.message }
       console.log(kept.length > 0, error)`,
    );
    // Either the program is refused inside the isolate or it gets fixed-length buffers; what must not
    // happen is the sandbox process dying under every session.
    assert.equal(run.final.status, "finished");
    assert.notEqual(run.final.exitCode, 137, `the sandbox process died: ${run.stderr}`);
    const other = await long.query(bystander, "console.log(kept)");
    assert.deepEqual([other.final.exitCode, other.stdout], [0, "still here\n"], `the bystander lost its REPL state: ${other.stderr}`);
    await serverHealthy(id, "address-space reservations", long);
    await long.destroy(id);
    await long.destroy(bystander);
  });

  test("infinite loops in sync code, microtasks, timers and formatting time out; deep recursion is a RangeError", async () => {
    const id = await session();
    for (const loop of [
      "while (true) {}",
      "(function f() { Promise.resolve().then(f) })()",
      "setInterval(() => {}, 0); (function f() { setImmediate(f) })(); (function g() { process.nextTick(g) })()",
      "console.log({ [Symbol.for('nodejs.util.inspect.custom')]() { while (true) {} } })",
    ]) {
      const started = Date.now();
      const run = await client.query(id, loop);
      assert.equal(run.final.status, "exec-timeout", loop);
      assert.ok(Date.now() - started < STEP_MS + 4000, `${loop} took ${Date.now() - started} ms`);
      await healthy(id, loop);
    }
    for (const deep of ["function f() { f() } f()", "let d = []; for (let i = 0; i < 1e5; i++) d = [d]; console.dir(d, { depth: null })"]) {
      const run = await client.query(id, deep);
      assert.deepEqual(outcome(run), ["finished", 1], deep);
      assert.match(run.stderr, /RangeError: Maximum call stack size exceeded/, deep);
      await healthy(id, deep);
    }
    assert.ok((await idleCpu(500)) < 0.2, "a sandbox process keeps burning CPU after the loops were stopped");
    await serverHealthy(id, "infinite loops");
    await client.destroy(id);
  });

  test("output formatted on the host counts against the per-run output limit", async () => {
    const id = await session();
    // Each console.log('%s', s) is counted as 64 bytes by the runtime but prints 1 MiB.
    const run = await client.query(id, "const s = 'y'.repeat(1 << 20); for (let i = 0; i < 24; i++) console.log('%s', s); console.error('done')");
    assert.deepEqual(outcome(run), ["finished", 0], run.stderr.slice(0, 300));
    assert.match(run.stderr, /output limit/, "no output-limit note: the limit was bypassed");
    await serverHealthy(id, "host-formatted output");
    await client.destroy(id);
  });

  test("ten seconds of console.log in a loop is capped and the server stays responsive", async () => {
    const id = await session({}, long);
    const meanwhile = await session({}, long);
    const started = Date.now();
    const flood = long.query(id, "const t0 = Date.now(); let n = 0; while (Date.now() - t0 < 10000) console.log('line', n++, 'x'.repeat(100))");
    await new Promise((resolve) => setTimeout(resolve, 3000));
    // Other sessions, in the same sandbox process and on the other server, are served meanwhile.
    for (const [on, other] of [[long, meanwhile], [client, await session()]] as const) {
      const t = Date.now();
      await healthy(other, "a flood elsewhere", on);
      assert.ok(Date.now() - t < 5000, `a normal run took ${Date.now() - t} ms during the flood`);
      await on.destroy(other);
    }
    const run = await flood;
    assert.deepEqual(outcome(run), ["finished", 0], run.stderr.slice(0, 300));
    assert.ok(Date.now() - started < LONG_STEP_MS, `the flood took ${Date.now() - started} ms`);
    assert.match(run.stdout, /^line 0 x{100}\n/);
    // What reaches the client is bounded by the per-run output limit (16 MiB by default).
    assert.ok(run.stdout.length <= 16 * 1024 * 1024 + 1024, `${run.stdout.length} characters delivered`);
    await serverHealthy(id, "an output flood", long);
    await long.destroy(id);
  });

  test("a program that never reads stdin while input is sent, and one interrupted while waiting for input", async () => {
    const id = await session();
    const started = await client.exec(id, { mode: "query", code: "const t0 = Date.now(); while (Date.now() - t0 < 300) {} console.log('done')", runId: null });
    const unsolicited = await client.execute(id, { mode: "input", runId: started.runId, code: "unsolicited" });
    assert.ok(unsolicited.status === 400 || unsolicited.status === 200, unsolicited.text);
    const rest = await client.run(id, { mode: "continue", runId: started.runId, code: "" });
    assert.deepEqual([rest.final.status, rest.final.exitCode], ["finished", 0]);
    assert.match(started.console.map((c) => c[1]).join("") + rest.stdout, /done\n/);

    const waiting = await client.exec(id, { mode: "query", code: "const answer = prompt('name?'); console.log('got', answer)", runId: null });
    let result = waiting;
    while (result.status !== "waiting-input") result = await client.exec(id, { mode: "continue", runId: waiting.runId, code: "" });
    assert.equal((await client.interrupt(id)).status < 300, true);
    const ended = await client.run(id, { mode: "continue", runId: waiting.runId, code: "" });
    assert.equal(ended.final.status, "finished");
    await serverHealthy(id, "stdin games");
    await client.destroy(id);
  });

  test("filling the session's quota is an EDQUOT error inside the program, and the session goes on", async () => {
    const id = await session();
    const run = await client.query(
      id,
      `const fs = require('fs');
       let n = 0, code = 'none';
       try { for (;;) { fs.writeFileSync('fill' + n + '.bin', new Uint8Array(256 * 1024)); n++ } } catch (e) { code = e.code }
       let appended = 'none';
       try { for (;;) fs.appendFileSync('fill0.bin', new Uint8Array(64 * 1024)) } catch (e) { appended = e.code }
       console.log(n > 0 && n < 17, code, appended)`,
    );
    assert.deepEqual([...outcome(run), run.stdout], ["finished", 0, "true EDQUOT EDQUOT\n"], run.stderr);
    const freed = await client.query(id, "const fs2 = require('fs'); for (const f of fs2.readdirSync('.')) fs2.rmSync(f); fs2.writeFileSync('after.txt', 'ok'); console.log(fs2.readFileSync('after.txt', 'utf8'))");
    assert.deepEqual([freed.final.exitCode, freed.stdout], [0, "ok\n"], freed.stderr);
    await serverHealthy(id, "quota exhaustion");
    await client.destroy(id);
  });

  test("killing the sandbox process mid-run ends the run with 137 and the next run works", async () => {
    const id = await session({}, long);
    await healthy(id, "start", long);
    const [pid] = sandboxPids("long");
    assert.ok(pid, "the sandbox process is running");
    const started = await long.exec(id, { mode: "query", code: "const t0 = Date.now(); while (Date.now() - t0 < 1500) {}", runId: null });
    process.kill(pid, "SIGKILL");
    const rest = await long.run(id, { mode: "continue", runId: started.runId, code: "" });
    assert.deepEqual(outcome(rest), ["finished", 137]);
    await serverHealthy(id, "a killed sandbox process", long);
    assert.ok(!sandboxPids("long").includes(pid));
    await long.destroy(id);
  });

  test("after the sandbox process died, the next run is not charged for starting a new one", async () => {
    const id = await session();
    await healthy(id, "start");
    const [pid] = sandboxPids();
    assert.ok(pid, "the sandbox process is running");
    process.kill(pid, "SIGKILL");
    // Whoever comes next, after a pause, should find a sandbox process ready: the step's limit here is 1.5 s.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const started = Date.now();
    await healthy(id, "a sandbox process restart");
    assert.ok(Date.now() - started < 1000, `the first run after the restart took ${Date.now() - started} ms`);
    await client.destroy(id);
  });

  test("the sandbox process holds none of the server's environment and, under a root server, no root", async () => {
    const id = await session();
    await healthy(id, "start");
    const [pid] = sandboxPids();
    assert.ok(pid);
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const environ = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").filter(Boolean);
    await client.destroy(id);
    // NODE_CHANNEL_* are the IPC channel fork() itself sets up.
    const names = environ.map((entry) => entry.slice(0, entry.indexOf("="))).filter((name) => !name.startsWith("NODE_CHANNEL_"));
    assert.deepEqual(names.sort(), ["KILN_ISOLATE_OPTIONS", "LANG", "PATH", "TMPDIR"]);
    if (process.getuid?.() === 0) {
      const uids = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(status);
      assert.deepEqual(uids?.slice(1), ["65534", "65534", "65534"], status);
    }
  });

  // Not done: Node's permission model (--experimental-permission) would also need the TypeScript
  // loader to run without spawning esbuild, and seccomp is out of Node's reach.

  // Known and documented (README, "Why a child process"): every session shares one sandbox
  // process, so a V8 heap abort there (a Map bomb) also resets the other sessions' REPL state.

  test("an uncaught throw or unhandled rejection of a value whose traps loop forever does not leave a thread spinning", async () => {
    // isolated-vm copies a thrown value, or the reason of a rejection nobody handled, after the call's
    // timeout has ended, running the program's traps where neither the timeout nor dispose() reach.
    const thrower = await session();
    const rejecter = await session();
    await client.put(rejecter, { "main.js": "Promise.reject(new Proxy({}, { get() { for (;;) {} } }));\n" });
    const started = Date.now();
    const runs = await Promise.all([
      client.query(thrower, "throw new Proxy({}, { get() { while (true) {} } })"),
      client.batch(rejecter, { exec: "node main.js" }),
    ]);
    for (const run of runs) assert.equal(run.final.status, "exec-timeout");
    assert.ok(Date.now() - started < STEP_MS + 6000, `the attacks took ${Date.now() - started} ms`);
    // Stopping such a thread takes a new sandbox process; give it time to start (see the restart test above).
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await healthy(rejecter, "an unhandled rejection with looping traps");
    const burnt = await idleCpu(1000);
    assert.ok(burnt < 0.3, `the sandbox process burns ${burnt.toFixed(2)} s of CPU per idle second after the attacks`);
    await serverHealthy(thrower, "a thrown value with looping traps");
    await client.destroy(thrower);
    await client.destroy(rejecter);
  });

  test("a completion request that reaches a poisoned getter still gets an answer", async () => {
    const id = await session();
    await client.query(id, "globalThis.evil = { get x() { Promise.reject(new Proxy({}, { get() { for (;;) {} } })); return {} } }");
    const res = await race(client.post(`/session/${id}/complete`, { json: { code: "evil.x.", options: {} } }), 8000, "complete");
    assert.equal(res.status, 200, res.text);
    assert.ok(Array.isArray(res.json.result.completions));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await serverHealthy(id, "a poisoned completion");
    const burnt = await idleCpu(1000);
    assert.ok(burnt < 0.3, `the sandbox process burns ${burnt.toFixed(2)} s of CPU per idle second after the completion`);
    await client.destroy(id);
  });
});
