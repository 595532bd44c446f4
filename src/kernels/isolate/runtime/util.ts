// node:util and the console. Formatting is Node's own: values are serialized
// (serialize.ts) and the host runs util.format/util.inspect on look-alikes.
// Strings-only console.log calls skip that round trip.

import { emit, format as hostFormat, type OutItem } from "./host.ts";
import { Serializer, inspectCustom, type Tree } from "./serialize.ts";
import { Buffer } from "./buffer.ts";
import { TextDecoder, TextEncoder } from "./encoding.ts";
import { ExitSignal } from "./loop.ts";

interface InspectOptions {
  depth?: number | null;
  maxArrayLength?: number | null;
  [key: string]: unknown;
}

const isBuffer = (v: unknown) => v instanceof Buffer;

function serializeAll(values: unknown[], options: InspectOptions = {}): Tree[] {
  const depth = options.depth === null || options.depth === Infinity ? 1000 : typeof options.depth === "number" ? options.depth : 2;
  const maxArrayLength = options.maxArrayLength === null ? 10_000 : typeof options.maxArrayLength === "number" ? Math.min(options.maxArrayLength, 10_000) : 100;
  const s = new Serializer({ depth, maxArrayLength }, isBuffer);
  return values.map((v) => s.value(v));
}

function plainOptions(options: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (options && typeof options === "object") {
    for (const [k, v] of Object.entries(options)) {
      if (v === null || typeof v === "number" || typeof v === "boolean" || typeof v === "string") out[k] = v;
    }
  }
  return out;
}

export function inspect(value: unknown, options?: unknown): string {
  const opts = typeof options === "boolean" ? { showHidden: options } : plainOptions(options);
  return hostFormat(serializeAll([value], opts as InspectOptions), false, opts);
}
inspect.custom = inspectCustom;
inspect.defaultOptions = { depth: 2, colors: false, maxArrayLength: 100, breakLength: 80, compact: 3 };

/** Strings without format specifiers need no host round trip. */
function simple(args: unknown[]): string | null {
  for (const a of args) if (typeof a !== "string") return null;
  if (args.length > 1 && (args[0] as string).includes("%")) return null;
  return (args as string[]).join(" ");
}

export function format(...args: unknown[]): string {
  return simple(args) ?? hostFormat(serializeAll(args), true, {});
}

export function formatWithOptions(options: unknown, ...args: unknown[]): string {
  const opts = plainOptions(options);
  return hostFormat(serializeAll(args, opts as InspectOptions), true, opts);
}

let indent = "";

function out(stream: 1 | 2, args: unknown[], mode?: "dir" | "table", options?: Record<string, unknown>): void {
  const text = mode ? null : simple(args);
  if (text !== null) {
    const body = indent ? text.replace(/^/gm, indent) : text;
    emit({ s: stream, t: body + "\n" }, body.length + 1);
    return;
  }
  const trees = serializeAll(args, (options ?? {}) as InspectOptions);
  const item: OutItem = { s: stream, f: trees, i: indent.length };
  if (mode || options) item.o = { ...(options ?? {}), mode: mode ?? "format" };
  emit(item, 64);
}

const counts = new Map<string, number>();
const timers = new Map<string, number>();

export const console = {
  log: (...args: unknown[]) => out(1, args),
  info: (...args: unknown[]) => out(1, args),
  debug: (...args: unknown[]) => out(1, args),
  error: (...args: unknown[]) => out(2, args),
  warn: (...args: unknown[]) => out(2, args),
  trace: (...args: unknown[]) => {
    const err = { name: "Trace", message: format(...args) } as Error;
    Error.captureStackTrace(err, console.trace);
    out(2, [String(err.stack)]);
  },
  dir: (value: unknown, options?: unknown) => out(1, [value], "dir", plainOptions(options)),
  dirxml: (...args: unknown[]) => out(1, args),
  table: (data: unknown, columns?: unknown) => {
    if (data === null || typeof data !== "object") return out(1, [data]);
    out(1, Array.isArray(columns) ? [data, columns.map(String)] : [data], "table", {});
  },
  assert: (cond: unknown, ...args: unknown[]) => {
    if (cond) return;
    if (typeof args[0] === "string") args[0] = `Assertion failed: ${args[0]}`;
    else args.unshift("Assertion failed");
    out(2, args);
  },
  count: (label = "default") => {
    const n = (counts.get(String(label)) ?? 0) + 1;
    counts.set(String(label), n);
    out(1, [`${String(label)}: ${n}`]);
  },
  countReset: (label = "default") => void counts.delete(String(label)),
  group: (...args: unknown[]) => {
    if (args.length > 0) out(1, args);
    indent += "  ";
  },
  groupCollapsed: (...args: unknown[]) => console.group(...args),
  groupEnd: () => {
    indent = indent.slice(2);
  },
  time: (label = "default") => void timers.set(String(label), Date.now()),
  timeLog: (label = "default", ...args: unknown[]) => {
    const start = timers.get(String(label));
    if (start === undefined) return out(2, [`Warning: No such label '${String(label)}' for console.timeLog()`]);
    out(1, [`${String(label)}: ${Date.now() - start}ms`, ...args]);
  },
  timeEnd: (label = "default") => {
    const start = timers.get(String(label));
    if (start === undefined) return out(2, [`Warning: No such label '${String(label)}' for console.timeEnd()`]);
    timers.delete(String(label));
    out(1, [`${String(label)}: ${Date.now() - start}ms`]);
  },
  clear: () => {},
};

export function resetConsole(): void {
  indent = "";
}

/** Writes an uncaught error as Node does: its stack (and extra properties). */
export function reportError(error: unknown, prefix = ""): void {
  if (error instanceof ExitSignal) return;
  try {
    if (prefix) out(2, [prefix + inspect(error)]);
    else out(2, [error]);
  } catch {
    emit({ s: 2, t: "Uncaught exception (could not be formatted)\n" }, 48);
  }
}

const kCustomPromisify = Symbol.for("nodejs.util.promisify.custom");

export function promisify(fn: (...args: any[]) => unknown): (...args: unknown[]) => Promise<unknown> {
  if (typeof fn !== "function") throw new TypeError('The "original" argument must be of type function');
  const custom = (fn as unknown as Record<symbol, unknown>)[kCustomPromisify];
  if (typeof custom === "function") return custom as (...args: unknown[]) => Promise<unknown>;
  return function (this: unknown, ...args: unknown[]) {
    return new Promise((resolve, reject) => {
      fn.call(this, ...args, (err: unknown, value: unknown) => (err ? reject(err) : resolve(value)));
    });
  };
}
promisify.custom = kCustomPromisify;

export function callbackify(fn: (...args: any[]) => Promise<unknown>) {
  return function (this: unknown, ...args: unknown[]) {
    const cb = args.pop() as (err: unknown, value?: unknown) => void;
    fn.apply(this, args).then(
      (v) => queueMicrotask(() => cb(null, v)),
      (e) => queueMicrotask(() => cb(e ?? new Error("Promise was rejected with a falsy value"))),
    );
  };
}

export function inherits(ctor: { prototype: object; super_?: unknown }, superCtor: { prototype: object }): void {
  Object.defineProperty(ctor, "super_", { value: superCtor, writable: true, configurable: true });
  Object.setPrototypeOf(ctor.prototype, superCtor.prototype);
}

const warned = new Set<string>();
export function deprecate<T extends (...args: any[]) => unknown>(fn: T, msg: string, code?: string): T {
  return function (this: unknown, ...args: unknown[]) {
    const key = code ?? msg;
    if (!warned.has(key)) {
      warned.add(key);
      out(2, [`(node:1) ${code ? `[${code}] ` : ""}DeprecationWarning: ${msg}`]);
    }
    return fn.apply(this, args);
  } as T;
}

export function isDeepStrictEqual(a: unknown, b: unknown, seen = new Map<object, object>()): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (seen.get(a) === b) return true;
  seen.set(a, b);
  if (a instanceof Date) return a.getTime() === (b as Date).getTime();
  if (a instanceof RegExp) return String(a) === String(b);
  if (a instanceof Map) {
    const m = b as Map<unknown, unknown>;
    if (a.size !== m.size) return false;
    for (const [k, v] of a) if (!m.has(k) || !isDeepStrictEqual(v, m.get(k), seen)) return false;
    return true;
  }
  if (a instanceof Set) {
    const s = b as Set<unknown>;
    if (a.size !== s.size) return false;
    for (const v of a) if (!s.has(v)) return false;
    return true;
  }
  const ka = Reflect.ownKeys(a).filter((k) => Object.prototype.propertyIsEnumerable.call(a, k));
  const kb = Reflect.ownKeys(b).filter((k) => Object.prototype.propertyIsEnumerable.call(b, k));
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!kb.includes(k)) return false;
    if (!isDeepStrictEqual((a as Record<PropertyKey, unknown>)[k], (b as Record<PropertyKey, unknown>)[k], seen)) return false;
  }
  return true;
}

const tag = (v: unknown) => Object.prototype.toString.call(v).slice(8, -1);
const TypedArrayProto = Object.getPrototypeOf(Uint8Array.prototype);

export const types = {
  isPromise: (v: unknown) => tag(v) === "Promise",
  isDate: (v: unknown) => tag(v) === "Date",
  isRegExp: (v: unknown) => tag(v) === "RegExp",
  isMap: (v: unknown) => tag(v) === "Map",
  isSet: (v: unknown) => tag(v) === "Set",
  isWeakMap: (v: unknown) => tag(v) === "WeakMap",
  isWeakSet: (v: unknown) => tag(v) === "WeakSet",
  isNativeError: (v: unknown) => tag(v) === "Error",
  isArrayBuffer: (v: unknown) => tag(v) === "ArrayBuffer",
  isSharedArrayBuffer: (v: unknown) => tag(v) === "SharedArrayBuffer",
  isAnyArrayBuffer: (v: unknown) => tag(v) === "ArrayBuffer" || tag(v) === "SharedArrayBuffer",
  isArrayBufferView: (v: unknown) => ArrayBuffer.isView(v),
  isDataView: (v: unknown) => tag(v) === "DataView",
  isTypedArray: (v: unknown) => v instanceof (TypedArrayProto.constructor as typeof Uint8Array),
  isUint8Array: (v: unknown) => tag(v) === "Uint8Array",
  isAsyncFunction: (v: unknown) => tag(v) === "AsyncFunction" || tag(v) === "AsyncGeneratorFunction",
  isGeneratorFunction: (v: unknown) => tag(v) === "GeneratorFunction" || tag(v) === "AsyncGeneratorFunction",
  isGeneratorObject: (v: unknown) => tag(v) === "Generator",
  isBoxedPrimitive: (v: unknown) => ["Number", "String", "Boolean", "BigInt", "Symbol"].includes(tag(v)) && typeof v === "object",
  isProxy: () => false,
};

export function stripVTControlCharacters(str: string): string {
  return String(str).replace(/\u001b\[[0-9;]*[A-Za-z]/g, "");
}

export function debuglog(): (...args: unknown[]) => void {
  const fn = () => {};
  return Object.assign(fn, { enabled: false });
}

export const util = {
  inspect,
  format,
  formatWithOptions,
  promisify,
  callbackify,
  inherits,
  deprecate,
  isDeepStrictEqual,
  types,
  stripVTControlCharacters,
  debuglog,
  debug: debuglog,
  isArray: Array.isArray,
  TextEncoder,
  TextDecoder,
  toUSVString: (s: string) => String(s).replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd"),
};
