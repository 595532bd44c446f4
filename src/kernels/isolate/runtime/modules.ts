// CommonJS inside the isolate: require() resolves through the host (same rules
// as the ES module loader, over the session's files), then compiles the module
// wrapper here with a sourceURL so stack traces name the file. Built-in modules
// are the shims of this runtime; any other node: module is refused by the host
// resolver with a clear error.

import { op } from "./host.ts";
import * as pathMod from "./path.ts";
import { fs, promises as fsPromises } from "./fs.ts";
import { util, types, console } from "./util.ts";
import { EventEmitter, once } from "./events.ts";
import { Buffer, constants as bufferConstants, kMaxLength } from "./buffer.ts";
import { atob, btoa, TextDecoder } from "./encoding.ts";
import { process } from "./process.ts";
import { clearTimer, setImmediate, setInterval, setTimeout } from "./loop.ts";
import { readlineModule } from "./stdin.ts";
import { BUILTIN_NAMES } from "./builtins.ts";

const indirectEval = eval;

export class Module {
  exports: unknown = {};
  loaded = false;
  readonly children: Module[] = [];
  readonly paths: string[] = [];
  readonly path: string;
  require!: Require;
  constructor(
    readonly id: string,
    readonly filename: string,
    readonly parent: Module | null,
  ) {
    this.path = pathMod.dirname(filename);
  }
}

type Require = ((spec: string) => unknown) & {
  resolve: (spec: string) => string;
  cache: Record<string, Module>;
  main: Module | undefined;
};

const cache: Record<string, Module> = Object.create(null);
let mainModule: Module | undefined;

function timersPromises() {
  return {
    setTimeout: (ms?: number, value?: unknown) => new Promise((resolve) => setTimeout(resolve, ms, value)),
    setImmediate: (value?: unknown) => new Promise((resolve) => setImmediate(resolve, value)),
    scheduler: { wait: (ms: number) => new Promise((resolve) => setTimeout(resolve, ms)), yield: () => new Promise((resolve) => setImmediate(resolve)) },
  };
}

class StringDecoder {
  private readonly decoder: TextDecoder;
  constructor(readonly encoding = "utf8") {
    this.decoder = new TextDecoder(encoding === "utf8" ? "utf-8" : encoding);
  }
  write(chunk: Uint8Array | string): string {
    return typeof chunk === "string" ? chunk : this.decoder.decode(chunk, { stream: true });
  }
  end(chunk?: Uint8Array): string {
    return (chunk ? this.write(chunk) : "") + this.decoder.decode();
  }
}

const timers = { setTimeout, setInterval, setImmediate, clearTimeout: clearTimer, clearInterval: clearTimer, clearImmediate: clearTimer };

const factories: Record<(typeof BUILTIN_NAMES)[number], () => unknown> = {
  fs: () => fs,
  "fs/promises": () => fsPromises,
  path: () => pathMod.default,
  "path/posix": () => pathMod.default,
  util: () => util,
  "util/types": () => types,
  events: () => Object.assign(EventEmitter, { once, EventEmitter, default: EventEmitter }),
  buffer: () => ({ Buffer, constants: bufferConstants, kMaxLength, atob, btoa }),
  process: () => process,
  console: () => console,
  timers: () => timers,
  "timers/promises": timersPromises,
  readline: () => readlineModule(false),
  "readline/promises": () => readlineModule(true),
  string_decoder: () => ({ StringDecoder }),
  module: () => ({ builtinModules: [...BUILTIN_NAMES], createRequire: (from: string) => makeRequire(pseudoModule(String(from))), Module }),
};

const builtins = new Map<string, unknown>();

/** The shim for a built-in name ("fs", "node:fs"), or undefined. */
export function builtin(name: string): unknown {
  const bare = name.startsWith("node:") ? name.slice(5) : name;
  if (!Object.hasOwn(factories, bare)) return undefined;
  if (!builtins.has(bare)) builtins.set(bare, factories[bare as keyof typeof factories]());
  return builtins.get(bare);
}


/** Named exports an ES module importing this built-in sees. */
export function builtinExportNames(name: string): string[] {
  const mod = builtin(name);
  if (!mod || (typeof mod !== "object" && typeof mod !== "function")) return [];
  return Object.keys(mod).filter((k) => /^[A-Za-z_$][\w$]*$/.test(k) && k !== "default");
}

function pseudoModule(from: string): Module {
  const filename = from.startsWith("file://") ? decodeURIComponent(from.slice(7)) : pathMod.resolve(from);
  return new Module(filename, filename, null);
}

export function makeRequire(mod: Module): Require {
  const require = ((spec: string) => load(spec, mod)) as Require;
  require.resolve = (spec: string) => (builtin(spec) !== undefined ? spec : resolve(spec, mod).path);
  require.cache = cache;
  require.main = mainModule;
  return require;
}

function resolve(spec: unknown, parent: Module): { path: string; format: string } {
  if (typeof spec !== "string" || spec === "") {
    const err = new TypeError(`The argument 'id' must be a non-empty string. Received ${spec === "" ? "''" : typeof spec}`) as TypeError & { code: string };
    err.code = "ERR_INVALID_ARG_VALUE";
    throw err;
  }
  return op<{ path: string; format: string }>("resolve", spec, parent.filename, "require");
}

function load(spec: string, parent: Module): unknown {
  const shim = builtin(spec);
  if (shim !== undefined) return shim;
  const { path, format } = resolve(spec, parent);
  const cached = cache[path];
  if (cached) return cached.exports;
  if (format === "esm") {
    const err = new Error(`require() of ES Module ${path} from ${parent.filename} not supported.\nUse import() or import it from an ES module instead.`) as Error & { code: string };
    err.code = "ERR_REQUIRE_ESM";
    throw err;
  }
  const mod = new Module(path, path, parent);
  parent.children.push(mod);
  return execute(mod, format);
}

function execute(mod: Module, format: string): unknown {
  cache[mod.filename] = mod;
  mod.require = makeRequire(mod);
  const { source } = op<{ source: string }>("load", mod.filename);
  try {
    if (format === "json") {
      try {
        mod.exports = JSON.parse(source);
      } catch (error) {
        (error as Error).message = `${mod.filename}: ${(error as Error).message}`;
        throw error;
      }
    } else {
      const body = source.startsWith("#!") ? "//" + source : source;
      // Named "<anonymous>" so frames read "Object.<anonymous> (file:line:col)" as in Node.
      const wrapper = indirectEval(
        `({ "<anonymous>": function (exports, require, module, __filename, __dirname) { ${body}\n} })["<anonymous>"]\n//# sourceURL=${mod.filename}`,
      ) as (...args: unknown[]) => void;
      wrapper.call(mod.exports, mod.exports, mod.require, mod, mod.filename, mod.path);
    }
  } catch (error) {
    delete cache[mod.filename];
    throw error;
  }
  mod.loaded = true;
  return mod.exports;
}

/** Runs a CommonJS program's main file. */
export function runMain(path: string): void {
  const mod = new Module(".", path, null);
  mainModule = mod;
  execute(mod, "cjs");
}

/** require() from an ES module or the REPL: `from` is the importing file. */
export function requireFrom(spec: string, from: string): unknown {
  const cached = cache[spec];
  if (cached) return cached.exports;
  return load(spec, pseudoModule(from));
}

/** What import() of a non-ES module resolves to: its exports as named bindings plus default. */
function namespaceOf(value: unknown): object {
  const ns = Object.create(null) as Record<string | symbol, unknown>;
  if (value && (typeof value === "object" || typeof value === "function")) {
    for (const key of Object.keys(value)) if (key !== "default") ns[key] = (value as Record<string, unknown>)[key];
  }
  ns.default = value;
  Object.defineProperty(ns, Symbol.toStringTag, { value: "Module" });
  return Object.freeze(ns);
}

interface PendingImport {
  id: number;
  path: string;
  resolve: (ns: unknown) => void;
  reject: (error: unknown) => void;
}

const pendingImports = new Map<number, PendingImport>();
let nextImport = 1;

/** import(spec) from `referrer`; ES modules wait for the host's loop to link them. */
export function dynamicImport(referrer: string, spec: unknown): Promise<unknown> {
  try {
    const name = String(spec);
    const shim = builtin(name);
    if (shim !== undefined) return Promise.resolve(namespaceOf(shim));
    const { path, format } = op<{ path: string; format: string }>("resolve", name, referrer, "import");
    if (format === "builtin") return Promise.resolve(namespaceOf(builtin(path)));
    if (format !== "esm") return Promise.resolve(namespaceOf(requireFrom(path, referrer)));
    return new Promise((resolve, reject) => {
      const id = nextImport++;
      pendingImports.set(id, { id, path, resolve, reject });
    });
  } catch (error) {
    return Promise.reject(error);
  }
}

/** Imports the host has not been asked to link yet. */
export function takeImportRequests(): { id: number; path: string }[] {
  return [...pendingImports.values()].filter((p) => !(p as { asked?: boolean }).asked).map((p) => {
    (p as { asked?: boolean }).asked = true;
    return { id: p.id, path: p.path };
  });
}

export function settleImport(id: number, namespace: unknown, error?: string): void {
  const pending = pendingImports.get(id);
  if (!pending) return;
  pendingImports.delete(id);
  if (error === undefined) pending.resolve(namespace);
  else pending.reject(new Error(error));
}

export function hasPendingImports(): boolean {
  return pendingImports.size > 0;
}

/** The REPL's `require` and `module`, relative to /home/work. */
export function replModule(): Module {
  const mod = new Module("<repl>", `${pathMod.CWD}/<repl>`, null);
  mod.require = makeRequire(mod);
  return mod;
}
