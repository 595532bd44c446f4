// Host side of console formatting: trees made in the isolate (runtime/serialize.ts)
// become look-alike host objects — same class names, keys, shapes and sharing —
// and node:util formats those, so output matches Node's exactly where it can.
// Trees are untrusted: they are walked with explicit limits, keys are defined
// (never assigned, so "__proto__" is just a key), and the look-alikes carry no
// code of the program: their functions and getters are empty stand-ins.

import { Console } from "node:console";
import { Writable } from "node:stream";
import { inspect, formatWithOptions, type InspectOptions } from "node:util";
import type { Prop, Tree } from "./runtime/serialize.ts";

const MAX_DEPTH = 200;
const MAX_NODES = 50_000;

/** util.format (when `fmt`) or util.inspect of look-alikes of the trees. */
export function formatTrees(trees: unknown, fmt: boolean, rawOptions: unknown): string {
  const options = inspectOptions(rawOptions);
  const reviver = new Reviver();
  const list = Array.isArray(trees) ? trees.slice(0, 10_000) : [];
  const values = list.map((t) => reviver.revive(t, 0));
  if (!fmt) return inspect(values[0], options);
  return formatWithOptions(options, ...values);
}

/** console.table, rendered by a node:console Console into a string. */
export function formatTable(trees: unknown, rawOptions: unknown): string {
  const reviver = new Reviver();
  const [data, columns] = (Array.isArray(trees) ? trees.slice(0, 2) : []).map((t) => reviver.revive(t, 0));
  let out = "";
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      out += chunk.toString();
      done();
    },
  });
  const console = new Console({ stdout: sink, stderr: sink, colorMode: false, inspectOptions: inspectOptions(rawOptions) }) as unknown as globalThis.Console;
  console.table(data, Array.isArray(columns) ? columns.filter((c): c is string => typeof c === "string") : undefined);
  return out.replace(/\n$/, "");
}

/** Only plain, known options pass: nothing callable reaches util. */
function inspectOptions(raw: unknown): InspectOptions {
  const out: InspectOptions = {};
  if (!raw || typeof raw !== "object") return out;
  const o = raw as Record<string, unknown>;
  const num = (v: unknown) => (typeof v === "number" && !Number.isNaN(v) ? v : v === null ? Infinity : undefined);
  for (const key of ["depth", "breakLength", "maxArrayLength", "maxStringLength"] as const) {
    const v = num(o[key]);
    if (v !== undefined) out[key] = v;
  }
  if (typeof o.compact === "number" || typeof o.compact === "boolean") out.compact = o.compact;
  for (const key of ["colors", "sorted", "showHidden", "getters", "numericSeparator"] as const) {
    if (typeof o[key] === "boolean") out[key] = o[key];
  }
  out.getters = false;
  out.customInspect = true;
  return out;
}

type Stand = (...args: unknown[]) => unknown;

class Reviver {
  private readonly byId = new Map<number, object>();
  private readonly classes = new Map<string, new () => object>();
  private nodes = 0;

  revive(tree: unknown, depth: number): unknown {
    if (tree === null || typeof tree !== "object") {
      return typeof tree === "function" || typeof tree === "symbol" ? undefined : tree;
    }
    if (depth > MAX_DEPTH || ++this.nodes > MAX_NODES) return rawText("[…]");
    const t = tree as Extract<Tree, { t: string }>;
    const next = depth + 1;
    switch (t.t) {
      case "sym":
        return Symbol(str(t.d, ""));
      case "ref":
        return this.byId.get(num(t.i)) ?? rawText("[Circular]");
      case "raw":
        return rawText(str(t.s));
      case "deep":
        return rawText(t.kind === "arr" ? "[Array]" : t.c === "Object" ? "[Object]" : `[${str(t.c)}]`);
      case "opaque":
        return rawText(`${str(t.c)} { ${str(t.s)} }`);
      case "obj": {
        const obj = t.c === null ? Object.create(null) : t.c === "Object" && !t.tag ? {} : Object.create(this.classOf(str(t.c), t.tag).prototype);
        this.remember(t.i, obj);
        this.props(obj, t.k, next);
        return obj;
      }
      case "arr": {
        const len = Math.min(num(t.len), 2 ** 32 - 1);
        const arr: unknown[] = t.c === "Array" ? [] : (Reflect.construct(Array, [], this.classOf(str(t.c), undefined, Array)) as unknown[]);
        this.remember(t.i, arr);
        arr.length = len;
        for (const item of list(t.items)) {
          if (Array.isArray(item) && typeof item[0] === "number" && item[0] < len) arr[item[0]] = this.revive(item[1], next);
        }
        this.props(arr, t.k, next);
        return arr;
      }
      case "fn": {
        const fn = standIn(t.kind, str(t.name), t.ext);
        this.remember(t.i, fn);
        this.props(fn, t.k, next);
        return fn;
      }
      case "err": {
        const cls = errorClass(str(t.c)) ?? this.classOf(str(t.c), undefined, Error);
        const err = Object.create(cls.prototype) as Error;
        this.remember(t.i, err);
        define(err, "stack", str(t.stack), false);
        define(err, "message", str(t.message), false);
        if (str(t.name) !== cls.prototype.name) define(err, "name", str(t.name), false);
        if ("cause" in t) define(err, "cause", this.revive(t.cause, next), false);
        this.props(err, t.k, next);
        return err;
      }
      case "date": {
        const date = new Date(num(t.v));
        this.remember(t.i, date);
        this.props(date, t.k, next);
        return date;
      }
      case "re": {
        let re: RegExp;
        try {
          re = new RegExp(str(t.src), str(t.flags));
        } catch {
          return rawText(`/${str(t.src)}/${str(t.flags)}`);
        }
        this.remember(t.i, re);
        this.props(re, t.k, next);
        return re;
      }
      case "map": {
        const map = t.c === "Map" ? new Map() : (Reflect.construct(Map, [], this.classOf(str(t.c), undefined, Map)) as Map<unknown, unknown>);
        this.remember(t.i, map);
        for (const e of list(t.entries)) if (Array.isArray(e)) map.set(this.revive(e[0], next), this.revive(e[1], next));
        this.props(map, t.k, next);
        return withMore(map, num(t.size) - map.size, "Map");
      }
      case "set": {
        const set = t.c === "Set" ? new Set() : (Reflect.construct(Set, [], this.classOf(str(t.c), undefined, Set)) as Set<unknown>);
        this.remember(t.i, set);
        for (const v of list(t.values)) set.add(this.revive(v, next));
        this.props(set, t.k, next);
        return withMore(set, num(t.size) - set.size, "Set");
      }
      case "ta":
        return typedArray(str(t.c), num(t.len), list(t.sample));
      case "buf": {
        const sample = t.sample instanceof Uint8Array ? t.sample.subarray(0, 50) : new Uint8Array();
        const len = num(t.len);
        const buf = Buffer.from(sample);
        if (len <= buf.length) return buf;
        return rawText(inspect(buf).replace(/>$/, ` ... ${len - buf.length} more bytes>`));
      }
      case "ab": {
        const sample = t.sample instanceof Uint8Array ? t.sample.subarray(0, 50) : new Uint8Array();
        const hex = [...sample].map((b) => b.toString(16).padStart(2, "0")).join(" ");
        const len = num(t.len);
        const more = len > sample.length ? ` ... ${len - sample.length} more bytes` : "";
        return rawText(`${t.c === "SharedArrayBuffer" ? "SharedArrayBuffer" : "ArrayBuffer"} { [Uint8Contents]: <${hex}${more}>, byteLength: ${len} }`);
      }
      case "box": {
        const inner = this.revive(t.v, next);
        const boxed = typeof inner === "symbol" || typeof inner === "bigint" || typeof inner === "number" || typeof inner === "string" || typeof inner === "boolean" ? Object(inner) : {};
        this.remember(t.i, boxed);
        return boxed;
      }
    }
    return undefined;
  }

  private remember(id: unknown, obj: object): void {
    if (typeof id === "number") this.byId.set(id, obj);
  }

  private props(target: object, props: unknown, depth: number): void {
    for (const p of list(props) as Prop[]) {
      if (!Array.isArray(p)) continue;
      const key = p[0];
      const k = typeof key === "string" ? key : key && typeof key === "object" ? Symbol(str((key as { sym?: string }).sym, "")) : undefined;
      if (k === undefined) continue;
      const accessor = p[2];
      if (accessor === "g" || accessor === "s" || accessor === "gs") {
        const get = accessor !== "s" ? () => undefined : undefined;
        const set = accessor !== "g" ? () => {} : undefined;
        Object.defineProperty(target, k, { get, set, enumerable: true, configurable: true });
      } else {
        define(target, k, this.revive(p[1], depth), true);
      }
    }
  }

  /** A class with the program's class name (and Symbol.toStringTag), cached per reviver. */
  private classOf(name: string, tag: string | undefined, base?: new () => object): new () => object {
    const key = `${base?.name ?? ""}:${name}:${tag ?? ""}`;
    let cls = this.classes.get(key);
    if (!cls) {
      cls = base ? { [name]: class extends base {} }[name]! : { [name]: class {} }[name]!;
      Object.defineProperty(cls, "name", { value: name });
      if (tag !== undefined) Object.defineProperty(cls.prototype, Symbol.toStringTag, { value: tag, configurable: true });
      this.classes.set(key, cls);
    }
    return cls;
  }
}

function standIn(kind: unknown, name: string, ext: unknown): Stand {
  let fn: Stand;
  switch (kind) {
    case "async":
      fn = { [name]: async function () {} }[name] as Stand;
      break;
    case "gen":
      fn = { [name]: function* () {} }[name] as unknown as Stand;
      break;
    case "asyncgen":
      fn = { [name]: async function* () {} }[name] as unknown as Stand;
      break;
    case "class": {
      if (typeof ext === "string") {
        const parent = { [ext]: class {} }[ext]!;
        Object.defineProperty(parent, "name", { value: ext });
        fn = { [name]: class extends parent {} }[name] as unknown as Stand;
      } else {
        fn = { [name]: class {} }[name] as unknown as Stand;
      }
      break;
    }
    default:
      fn = { [name]: function () {} }[name] as Stand;
  }
  Object.defineProperty(fn, "name", { value: name });
  return fn;
}

const ERRORS: Record<string, new () => Error> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
  AggregateError: AggregateError as unknown as new () => Error,
};

function errorClass(name: string): (new () => Error) | undefined {
  return Object.hasOwn(ERRORS, name) ? ERRORS[name] : undefined;
}

const TYPED: Record<string, (n: number) => ArrayLike<unknown>> = {
  Int8Array: (n) => new Int8Array(n),
  Uint8Array: (n) => new Uint8Array(n),
  Uint8ClampedArray: (n) => new Uint8ClampedArray(n),
  Int16Array: (n) => new Int16Array(n),
  Uint16Array: (n) => new Uint16Array(n),
  Int32Array: (n) => new Int32Array(n),
  Uint32Array: (n) => new Uint32Array(n),
  Float32Array: (n) => new Float32Array(n),
  Float64Array: (n) => new Float64Array(n),
  BigInt64Array: (n) => new BigInt64Array(n),
  BigUint64Array: (n) => new BigUint64Array(n),
};

function typedArray(name: string, len: number, sample: unknown[]): unknown {
  const make = Object.hasOwn(TYPED, name) ? TYPED[name]! : TYPED.Uint8Array!;
  const big = name.startsWith("Big");
  const arr = make(sample.length) as unknown as Record<number, unknown>;
  sample.forEach((v, n) => {
    if (big ? typeof v === "bigint" : typeof v === "number") arr[n] = v;
  });
  if (len <= sample.length) return arr;
  return rawText(withMoreText(inspect(arr).replace(`(${sample.length})`, `(${len})`), len - sample.length, "]"));
}

/** A value that prints as `text`. */
function rawText(text: string): object {
  return { [inspect.custom]: () => text };
}

function withMore<T extends object>(value: T, more: number, _kind: string): T | object {
  return more <= 0 ? value : rawText(withMoreText(inspect(value), more, "}"));
}

/** Adds Node's "... N more items" entry before the closing bracket, on one line or many. */
function withMoreText(text: string, more: number, close: "]" | "}"): string {
  const entry = `... ${more} more item${more === 1 ? "" : "s"}`;
  if (text.endsWith(`\n${close}`)) return `${text.slice(0, -2)},\n  ${entry}\n${close}`;
  return text.replace(new RegExp(` ?\\${close}$`), `, ${entry} ${close}`);
}

function define(target: object, key: string | symbol, value: unknown, enumerable: boolean): void {
  Object.defineProperty(target, key, { value, enumerable, writable: true, configurable: true });
}

function str(v: unknown, fallback = ""): string {
  return typeof v === "string" ? v : fallback;
}

function num(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : 0;
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
