// Turns program values into plain trees that cross to the host, where
// node:util.inspect formats look-alikes of them (see ../format.ts). Only data
// crosses: constructor names, keys, primitives, byte samples. Shared and
// circular objects keep their identity through ids, so `<ref *1>` and
// `[Circular *1]` come out as in Node.

export type Key = string | { sym: string | undefined };
export type Prop = [key: Key, value: Tree, accessor?: "g" | "s" | "gs"];

export type Tree =
  | string
  | number
  | boolean
  | bigint
  | null
  | undefined
  | { t: "sym"; d: string | undefined }
  | { t: "ref"; i: number }
  | { t: "obj"; i: number; c: string | null; tag?: string; k: Prop[] }
  | { t: "arr"; i: number; c: string; len: number; items: [index: number, value: Tree][]; k: Prop[] }
  | { t: "fn"; i: number; kind: "fn" | "async" | "gen" | "asyncgen" | "class"; name: string; ext?: string; k: Prop[] }
  | { t: "err"; i: number; c: string; name: string; message: string; stack: string; k: Prop[]; cause?: Tree }
  | { t: "date"; i: number; v: number; k: Prop[] }
  | { t: "re"; i: number; src: string; flags: string; k: Prop[] }
  | { t: "map"; i: number; c: string; size: number; entries: [Tree, Tree][]; k: Prop[] }
  | { t: "set"; i: number; c: string; size: number; values: Tree[]; k: Prop[] }
  | { t: "ta"; i: number; c: string; len: number; sample: number[] | bigint[]; k: Prop[] }
  | { t: "buf"; i: number; len: number; sample: Uint8Array }
  | { t: "ab"; i: number; c: string; len: number; sample: Uint8Array }
  | { t: "box"; i: number; c: string; v: Tree }
  | { t: "opaque"; c: string; s: string }
  | { t: "deep"; c: string; kind: "obj" | "arr" }
  | { t: "raw"; s: string };

export const inspectCustom = Symbol.for("nodejs.util.inspect.custom");

export interface SerializeOptions {
  depth: number;
  maxArrayLength: number;
}

const MAX_NODES = 20_000;

const getProto = Object.getPrototypeOf;
const ownKeys = Reflect.ownKeys;
const getDesc = Object.getOwnPropertyDescriptor;
const toStr = Object.prototype.toString;
const fnToString = Function.prototype.toString;
const isArray = Array.isArray;
const mapEntries = Map.prototype.entries;
const mapSize = getDesc(Map.prototype, "size")!.get!;
const setValues = Set.prototype.values;
const setSize = getDesc(Set.prototype, "size")!.get!;
const dateValue = Date.prototype.getTime;
const reSource = getDesc(RegExp.prototype, "source")!.get!;
const reFlags = getDesc(RegExp.prototype, "flags")!.get!;
const TypedArray = getProto(Uint8Array) as { prototype: object };
const taLength = getDesc(TypedArray.prototype, "length")!.get!;
const taTag = getDesc(TypedArray.prototype, Symbol.toStringTag)!.get!;
const abLength = getDesc(ArrayBuffer.prototype, "byteLength")!.get!;
const sabLength = getDesc(SharedArrayBuffer.prototype, "byteLength")!.get!;

/** The class name Node would print: the first prototype with an own `constructor` function. */
export function constructorName(value: object): string | null {
  let proto: object | null = value;
  for (let n = 0; proto !== null && n < 1000; n++) {
    const desc = getDesc(proto, "constructor");
    if (desc && typeof desc.value === "function" && typeof desc.value.name === "string" && desc.value.name !== "") {
      return desc.value.name;
    }
    proto = getProto(proto);
  }
  return proto === null && getProto(value) === null ? null : "Object";
}

function tagOf(value: object): string {
  return (toStr.call(value) as string).slice(8, -1);
}

export class Serializer {
  private readonly ids = new Map<object, number>();
  private nodes = 0;

  constructor(
    private readonly options: SerializeOptions,
    private readonly isBuffer: (v: unknown) => boolean,
  ) {}

  value(v: unknown, depth = 0): Tree {
    switch (typeof v) {
      case "string":
      case "number":
      case "boolean":
      case "bigint":
      case "undefined":
        return v;
      case "symbol":
        return { t: "sym", d: v.description };
    }
    if (v === null) return null;
    const obj = v as object;
    const seen = this.ids.get(obj);
    if (seen !== undefined) return { t: "ref", i: seen };
    if (++this.nodes > MAX_NODES) return { t: "raw", s: "[…]" };
    try {
      return this.object(obj, depth);
    } catch (error) {
      return { t: "raw", s: `[Inspection failed: ${safeMessage(error)}]` };
    }
  }

  private object(obj: object, depth: number): Tree {
    const custom = (obj as Record<symbol, unknown>)[inspectCustom];
    if (typeof custom === "function") {
      const out = custom.call(obj, this.options.depth - depth, { depth: this.options.depth - depth }, undefined);
      if (out !== obj) return typeof out === "string" ? { t: "raw", s: out } : this.value(out, depth);
    }
    const name = constructorName(obj);
    if (depth > this.options.depth) {
      return { t: "deep", c: name ?? "Object", kind: isArray(obj) ? "arr" : "obj" };
    }
    const i = this.ids.size + 1;
    this.ids.set(obj, i);
    const tag = tagOf(obj);
    const next = depth + 1;

    if (typeof obj === "function") {
      const src = safeSource(obj);
      const isClass = src.startsWith("class");
      let ext: string | undefined;
      if (isClass) {
        const parent = getProto(obj);
        if (typeof parent === "function" && parent !== Function.prototype) ext = (parent as { name?: string }).name || "";
      }
      const kind = isClass ? "class" : tag === "AsyncFunction" ? "async" : tag === "GeneratorFunction" ? "gen" : tag === "AsyncGeneratorFunction" ? "asyncgen" : "fn";
      const fnName = (obj as { name?: unknown }).name;
      return { t: "fn", i, kind, name: typeof fnName === "string" ? fnName : "", ext, k: this.props(obj, next, isClass ? ["prototype"] : []) };
    }
    if (isArray(obj)) {
      const arr = obj as unknown[];
      const len = arr.length;
      const items: [number, Tree][] = [];
      const max = Math.min(len, this.options.maxArrayLength);
      for (let n = 0; n < max; n++) if (n in arr) items.push([n, this.value(arr[n], next)]);
      return { t: "arr", i, c: name ?? "Array", len, items, k: this.props(obj, next, null) };
    }
    if (this.isBuffer(obj)) {
      const bytes = obj as Uint8Array;
      const len = taLength.call(bytes) as number;
      return { t: "buf", i, len, sample: Uint8Array.prototype.slice.call(bytes, 0, 50) as Uint8Array };
    }
    if (ArrayBuffer.isView(obj) && !(obj instanceof DataView)) {
      const ta = obj as unknown as ArrayLike<number | bigint>;
      const len = taLength.call(ta) as number;
      const sample: (number | bigint)[] = [];
      for (let n = 0; n < Math.min(len, this.options.maxArrayLength); n++) sample.push(ta[n]!);
      return { t: "ta", i, c: (taTag.call(ta) as string) ?? name ?? "Uint8Array", len, sample: sample as number[], k: [] };
    }
    switch (tag) {
      case "Error":
        return this.error(obj as Error, i, name, next);
      case "Date":
        return { t: "date", i, v: dateValue.call(obj) as number, k: this.props(obj, next) };
      case "RegExp":
        return { t: "re", i, src: reSource.call(obj) as string, flags: reFlags.call(obj) as string, k: this.props(obj, next) };
      case "Map": {
        const entries: [Tree, Tree][] = [];
        const size = mapSize.call(obj) as number;
        let n = 0;
        for (const [k, val] of mapEntries.call(obj) as Iterable<[unknown, unknown]>) {
          if (n++ >= this.options.maxArrayLength) break;
          entries.push([this.value(k, next), this.value(val, next)]);
        }
        return { t: "map", i, c: name ?? "Map", size, entries, k: this.props(obj, next) };
      }
      case "Set": {
        const values: Tree[] = [];
        const size = setSize.call(obj) as number;
        let n = 0;
        for (const val of setValues.call(obj) as Iterable<unknown>) {
          if (n++ >= this.options.maxArrayLength) break;
          values.push(this.value(val, next));
        }
        return { t: "set", i, c: name ?? "Set", size, values, k: this.props(obj, next) };
      }
      case "ArrayBuffer":
      case "SharedArrayBuffer": {
        const len = (tag === "ArrayBuffer" ? abLength : sabLength).call(obj) as number;
        return { t: "ab", i, c: tag, len, sample: new Uint8Array(obj as ArrayBuffer, 0, Math.min(len, 50)).slice() };
      }
      case "Promise":
        return { t: "opaque", c: name ?? "Promise", s: "<unknown>" };
      case "WeakMap":
      case "WeakSet":
        return { t: "opaque", c: tag, s: "<items unknown>" };
      case "Number":
      case "String":
      case "Boolean":
      case "BigInt":
      case "Symbol":
        return { t: "box", i, c: tag, v: this.value((obj as { valueOf(): unknown }).valueOf(), next) };
    }
    const ownTag = (obj as Record<symbol, unknown>)[Symbol.toStringTag];
    const node: Tree = { t: "obj", i, c: name, k: this.props(obj, next) };
    if (typeof ownTag === "string" && ownTag !== "" && ownTag !== name) node.tag = ownTag;
    return node;
  }

  private error(err: Error, i: number, name: string | null, depth: number): Tree {
    const read = (key: string): string => {
      try {
        const v = (err as unknown as Record<string, unknown>)[key];
        return v === undefined ? "" : String(v);
      } catch {
        return "";
      }
    };
    const node: Tree = {
      t: "err",
      i,
      c: name ?? "Error",
      name: read("name"),
      message: read("message"),
      stack: read("stack"),
      k: this.props(err, depth, ["stack", "message"]),
    };
    const causeDesc = getDesc(err, "cause");
    if (causeDesc && "value" in causeDesc) node.cause = this.value(causeDesc.value, depth);
    return node;
  }

  /** Enumerable own properties; `skipIndices` (null) leaves out array indices. */
  private props(obj: object, depth: number, skip: string[] | null = []): Prop[] {
    const out: Prop[] = [];
    for (const key of ownKeys(obj)) {
      if (typeof key === "string") {
        if (skip === null ? isIndex(key) || key === "length" : skip.includes(key)) continue;
      }
      const desc = getDesc(obj, key);
      if (!desc || !desc.enumerable) continue;
      const k: Key = typeof key === "symbol" ? { sym: key.description } : key;
      if ("value" in desc) out.push([k, this.value(desc.value, depth)]);
      else out.push([k, undefined, desc.get && desc.set ? "gs" : desc.get ? "g" : "s"]);
      if (out.length >= 10_000) break;
    }
    return out;
  }
}

function isIndex(key: string): boolean {
  return /^(?:0|[1-9][0-9]*)$/.test(key) && Number(key) < 2 ** 32 - 1;
}

function safeSource(fn: object): string {
  try {
    return fnToString.call(fn) as string;
  } catch {
    return "";
  }
}

function safeMessage(error: unknown): string {
  try {
    return error instanceof Error ? error.message : String(error);
  } catch {
    return "unknown error";
  }
}
