// Guest source: the runtime every QuickJS context starts with. It is one
// function taking the host's functions (host.ts) and installing Node's globals
// (console, process, require, timers, prompt) plus `__kiln`, the control object
// the host's run loop (run.ts) calls. Synchronous host calls (fs, input, module
// loading) suspend QuickJS through asyncify until the host's promise settles.

import { GUEST_FORMAT } from "./guest-format.ts";
import { GUEST_PATH } from "./guest-path.ts";

export const GUEST_RUNTIME = String.raw`(function (host, config) {
"use strict";
const g = globalThis;
${GUEST_FORMAT}
${GUEST_PATH}
const state = { exitCode: 0, exiting: null, timers: new Map(), seq: 0, uncaught: null };
class ExitSignal { constructor(code) { this.code = code; } }
function define(name, value) { Object.defineProperty(g, name, { value, writable: true, configurable: true, enumerable: false }); }

const console = {};
for (const [name, stream] of [["log", 1], ["info", 1], ["debug", 1], ["error", 2], ["warn", 2], ["trace", 2]]) {
  console[name] = (...args) => { host.write(stream, format(...args) + "\n"); };
}
console.dir = (v, o) => { host.write(1, inspect(v, o) + "\n"); };
console.table = console.log;
console.assert = (ok, ...args) => { if (!ok) console.error("Assertion failed" + (args.length ? ": " + format(...args) : "")); };

function exit(code) {
  state.exiting = code === undefined ? (process.exitCode ?? 0) : Number(code) | 0;
  throw new ExitSignal(state.exiting);
}
const process = {
  argv: config.argv, env: config.env, platform: "linux", version: config.version, versions: { node: config.version.slice(1) },
  pid: 1, arch: "wasm32", exitCode: undefined, execArgv: [],
  cwd: () => "/home/work", exit, uptime: () => 0,
  nextTick: (fn, ...args) => { Promise.resolve().then(() => fn(...args)).catch(uncaught); },
  stdout: { write: (s) => { host.write(1, typeof s === "string" ? s : String(s)); return true; }, isTTY: false },
  stderr: { write: (s) => { host.write(2, typeof s === "string" ? s : String(s)); return true; }, isTTY: false },
  on() { return process; }, once() { return process; }, off() { return process; }, emit() { return false; },
  memoryUsage: () => ({ rss: 0, heapTotal: 0, heapUsed: 0, external: 0 }),
};

function abs(p) { return path.resolve(String(p)); }
function encodingOf(o) { return typeof o === "string" ? o : o && o.encoding ? o.encoding : null; }
function bytesOf(data) {
  if (typeof data === "string") return data;
  if (data instanceof ArrayBuffer) return data;
  if (ArrayBuffer.isView(data)) return data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
  return String(data);
}
function statObject(s) {
  return { size: s.size, mode: s.mode, mtimeMs: s.mtimeMs, mtime: new Date(s.mtimeMs), isFile: () => s.kind === "file", isDirectory: () => s.kind === "dir", isSymbolicLink: () => s.kind === "symlink" };
}
const fs = {
  readFileSync(p, o) { const r = host.fs("read", abs(p), encodingOf(o) ? 1 : 0); return typeof r === "string" ? r : new Uint8Array(r); },
  writeFileSync(p, data) { host.fs("write", abs(p), bytesOf(data)); },
  appendFileSync(p, data) { host.fs("append", abs(p), bytesOf(data)); },
  existsSync(p) { try { return host.fs("stat", abs(p)) !== null; } catch { return false; } },
  statSync(p) { const s = host.fs("stat", abs(p)); if (s === null) throw enoent("stat", p); return statObject(JSON.parse(s)); },
  readdirSync(p, o) {
    const entries = JSON.parse(host.fs("list", abs(p)));
    return o && o.withFileTypes ? entries.map((e) => ({ name: e.name, isFile: () => e.kind === "file", isDirectory: () => e.kind === "dir" })) : entries.map((e) => e.name);
  },
  mkdirSync(p, o) { host.fs("mkdir", abs(p), o && o.recursive ? 1 : 0); },
  unlinkSync(p) { host.fs("rm", abs(p), 0); },
  rmSync(p, o) { host.fs("rm", abs(p), o && o.recursive ? 1 : 0, o && o.force ? 1 : 0); },
  renameSync(a, b) { host.fs("rename", abs(a), abs(b)); },
};
function enoent(op, p) { const e = new Error("ENOENT: no such file or directory, " + op + " '" + p + "'"); e.code = "ENOENT"; return e; }
fs.promises = {};
for (const [name, fn] of Object.entries(fs)) {
  if (typeof fn !== "function" || !name.endsWith("Sync")) continue;
  const base = name.slice(0, -4);
  fs.promises[base] = (...args) => new Promise((resolve) => resolve(fn(...args)));
  fs[base] = (...args) => {
    const cb = typeof args[args.length - 1] === "function" ? args.pop() : () => {};
    let result, error = null;
    try { result = fn(...args); } catch (e) { error = e; }
    setTimeout(() => cb(error, result), 0);
  };
}
fs.promises.access = (p) => new Promise((resolve, reject) => (fs.existsSync(p) ? resolve() : reject(enoent("access", p))));

const util = { format, inspect, isDeepStrictEqual: (a, b) => JSON.stringify(a) === JSON.stringify(b), promisify: (fn) => (...a) => new Promise((res, rej) => fn(...a, (e, v) => (e ? rej(e) : res(v)))) };
const builtins = { fs, "fs/promises": fs.promises, path, "path/posix": path, process, util, console };

const cache = new Map();
function makeRequire(from) {
  const require = (spec) => {
    const bare = String(spec).replace(/^node:/, "");
    if (Object.hasOwn(builtins, bare)) return builtins[bare];
    const r = JSON.parse(host.resolve(String(spec), from, "require"));
    return load(r.path, r.format);
  };
  require.cache = {};
  require.resolve = (spec) => JSON.parse(host.resolve(String(spec), from, "require")).path;
  return require;
}
function load(file, fmt) {
  const hit = cache.get(file);
  if (hit) return hit.exports;
  if (fmt === "esm") { const e = new Error("require() of ES module " + file + " is not supported here: use import"); e.code = "ERR_REQUIRE_ESM"; throw e; }
  const module = { id: file, filename: file, exports: {}, loaded: false, children: [] };
  cache.set(file, module);
  try {
    const source = host.source(file);
    if (fmt === "json") module.exports = JSON.parse(source);
    else {
      const dir = path.dirname(file);
      const fn = (0, eval)("(function (exports, require, module, __filename, __dirname) {" + source.replace(/^#!.*/, "") + "\n})");
      fn.call(module.exports, module.exports, makeRequire(file), module, file, dir);
    }
  } catch (e) { cache.delete(file); throw e; }
  module.loaded = true;
  return module.exports;
}

function addTimer(fn, ms, args, repeat) {
  if (typeof fn !== "function") throw new TypeError('The "callback" argument must be of type function.');
  const id = ++state.seq;
  const delay = Math.max(1, Number(ms) || 0);
  state.timers.set(id, { fn, args, due: Date.now() + delay, repeat: repeat ? delay : 0, ref: true });
  return { id, unref() { const t = state.timers.get(id); if (t) t.ref = false; return this; }, ref() { return this; }, hasRef: () => true, [Symbol.toPrimitive]: () => id };
}
function clearTimer(t) { if (t != null) state.timers.delete(typeof t === "object" ? t.id : Number(t)); }
function uncaught(e) { if (!(e instanceof ExitSignal) && state.uncaught === null) state.uncaught = e; }

define("global", g);
define("console", console);
define("process", process);
define("setTimeout", (fn, ms, ...args) => addTimer(fn, ms, args, false));
define("setInterval", (fn, ms, ...args) => addTimer(fn, ms, args, true));
define("setImmediate", (fn, ...args) => addTimer(fn, 0, args, false));
define("clearTimeout", clearTimer);
define("clearInterval", clearTimer);
define("clearImmediate", clearTimer);
define("queueMicrotask", (fn) => { Promise.resolve().then(fn).catch(uncaught); });
define("prompt", (message) => { const text = host.input(message === undefined ? "" : String(message)); return text; });
define("require", makeRequire("/home/work/REPL"));
define("__kiln", Object.freeze({
  /** ms until the next timer that keeps the run alive, -1 when none. */
  next() {
    let due = Infinity;
    for (const t of state.timers.values()) if (t.ref && t.due < due) due = t.due;
    return due === Infinity ? -1 : Math.max(0, due - Date.now());
  },
  /** Runs the earliest due timer; its error, if any, is the run's uncaught error. */
  fire() {
    let id = null, first = null;
    for (const [k, t] of state.timers) if (t.due <= Date.now() && (first === null || t.due < first.due)) { id = k; first = t; }
    if (first === null) return;
    if (first.repeat) first.due = Date.now() + first.repeat; else state.timers.delete(id);
    first.fn(...first.args);
  },
  /** The run's exit code, or null while it goes on: process.exit(), an uncaught error (reported here) or none. */
  status() {
    if (state.exiting !== null) return state.exiting;
    if (state.uncaught !== null) { host.write(2, describe(state.uncaught) + "\n"); state.exiting = 1; return 1; }
    return null;
  },
  end() { const code = state.exiting ?? (process.exitCode ?? 0); state.timers.clear(); state.exiting = null; state.uncaught = null; process.exitCode = undefined; return Number(code) | 0; },
  describe,
  track(promise) { Promise.resolve(promise).catch(uncaught); },
  isExit: (e) => e instanceof ExitSignal,
  builtin: (name) => builtins[name],
  builtinNames: () => JSON.stringify(Object.fromEntries(Object.entries(builtins).map(([k, v]) => [k, Object.keys(v).filter((n) => /^[A-Za-z_$][\w$]*$/.test(n) && n !== "default")]))),
  requireFrom: (file, fmt) => load(file, fmt ?? "cjs"),
}));
function describe(e) { return e instanceof Error ? errorText(e) : "Uncaught " + inspect(e); }
})`;
