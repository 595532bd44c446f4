// Module resolution and loading over the session's files, shared by require()
// (through the bridge) and the ES module linker. Node's rules, narrowed to the
// sandbox: relative and absolute paths under /home/work, extension and index
// lookup (with TypeScript's "./x.js" → "./x.ts"), packages in node_modules with
// "exports"/"main", and the built-in shims. A file's format comes from its
// extension, the nearest package.json "type", or its syntax (as Node 22 does).

import { builtinModules } from "node:module";
import { posix } from "node:path";
import { Parser } from "acorn";
import type { Vfs } from "../../vfs/vfs.ts";
import { toSessionPath, WORK_DIR } from "../../vfs/paths.ts";
import { isTypeScript, stripTypes, TranspileError } from "./transpile.ts";
import { rewriteDynamicImport } from "./dynamic-import.ts";

export type Format = "cjs" | "esm" | "json" | "builtin";

export interface Resolved {
  /** Absolute in-sandbox path, or the bare built-in name. */
  path: string;
  format: Format;
}

/** An error the program sees, with Node's code. */
export class ModuleError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
  override get name() {
    return "Error";
  }
}

const EXTENSIONS = [".js", ".mjs", ".cjs", ".ts", ".mts", ".cts", ".json"];
const TS_ALTERNATIVES: Record<string, string> = { ".js": ".ts", ".mjs": ".mts", ".cjs": ".cts", ".jsx": ".tsx" };
const NODE_BUILTINS = new Set(builtinModules.filter((m) => !m.startsWith("_")));
const decoder = new TextDecoder();

export class ModuleHost {
  private readonly sources = new Map<string, { mtimeMs: number; size: number; source: string }>();

  constructor(
    private readonly vfs: Vfs,
    /** Built-ins the runtime provides (runtime/modules.ts). */
    private readonly available: ReadonlySet<string>,
  ) {}

  async resolve(spec: string, from: string, kind: "require" | "import"): Promise<Resolved> {
    const bare = spec.startsWith("node:") ? spec.slice(5) : spec;
    if (spec.startsWith("node:") || NODE_BUILTINS.has(bare) || this.available.has(bare)) {
      if (this.available.has(bare)) return { path: bare, format: "builtin" };
      const list = [...this.available].sort().join(", ");
      throw new ModuleError(
        kind === "require" ? "MODULE_NOT_FOUND" : "ERR_UNKNOWN_BUILTIN_MODULE",
        `Cannot find module '${spec}': the built-in module '${bare}' is not available in this sandbox (available: ${list})`,
      );
    }
    const dir = posix.dirname(from);
    let target: string | null;
    if (spec.startsWith("file://")) target = await this.file(decodeURIComponent(new URL(spec).pathname));
    else if (spec.startsWith("/") || spec.startsWith("./") || spec.startsWith("../") || spec === "." || spec === "..") {
      target = await this.file(posix.resolve(dir, spec));
    } else target = await this.package(spec, dir, kind);
    if (target === null) throw notFound(spec, from, kind);
    return { path: target, format: await this.format(target) };
  }

  /** A module's source, TypeScript already stripped; cached while the file is unchanged. */
  async load(path: string): Promise<string> {
    const sp = sessionPath(path);
    const stat = sp === null ? null : await this.vfs.stat(sp);
    if (sp === null || !stat || stat.kind !== "file") throw new ModuleError("MODULE_NOT_FOUND", `Cannot find module '${path}'`);
    const hit = this.sources.get(path);
    if (hit && hit.mtimeMs === stat.mtimeMs && hit.size === stat.size) return hit.source;
    let source = decoder.decode(await this.vfs.readFile(sp));
    if (source.charCodeAt(0) === 0xfeff) source = source.slice(1);
    if (isTypeScript(path)) source = await stripTypes(source, path);
    if (!path.endsWith(".json")) source = rewriteDynamicImport(source, path);
    this.sources.set(path, { mtimeMs: stat.mtimeMs, size: stat.size, source });
    return source;
  }

  /** Checks CommonJS syntax up front: eval() inside the isolate would lose the location. */
  async loadCommonJs(path: string): Promise<string> {
    const source = await this.load(path);
    if (path.endsWith(".json")) return source;
    try {
      Parser.parse(source, { ecmaVersion: "latest", sourceType: "script", allowReturnOutsideFunction: true, allowHashBang: true });
    } catch (error) {
      throw syntaxError(path, source, error);
    }
    return source;
  }

  private async kind(path: string): Promise<"file" | "dir" | null> {
    const sp = sessionPath(path);
    if (sp === null) return null;
    const stat = await this.vfs.stat(sp);
    return stat?.kind === "file" ? "file" : stat?.kind === "dir" ? "dir" : null;
  }

  /** A file path: exact, with an extension, the TypeScript twin, or a directory's main/index. */
  private async file(base: string): Promise<string | null> {
    const kind = await this.kind(base);
    if (kind === "file") return base;
    for (const ext of EXTENSIONS) if ((await this.kind(base + ext)) === "file") return base + ext;
    const ext = posix.extname(base);
    const alt = TS_ALTERNATIVES[ext];
    if (alt && (await this.kind(base.slice(0, -ext.length) + alt)) === "file") return base.slice(0, -ext.length) + alt;
    if (kind === "dir") {
      const pkg = await this.packageJson(posix.join(base, "package.json"));
      if (typeof pkg?.main === "string") {
        const main = await this.file(posix.resolve(base, pkg.main));
        if (main) return main;
      }
      for (const e of EXTENSIONS) if ((await this.kind(`${base}/index${e}`)) === "file") return `${base}/index${e}`;
    }
    return null;
  }

  /** A bare specifier from node_modules folders between `dir` and /home/work. */
  private async package(spec: string, dir: string, kind: "require" | "import"): Promise<string | null> {
    const parts = spec.split("/");
    const nameLength = spec.startsWith("@") ? 2 : 1;
    const name = parts.slice(0, nameLength).join("/");
    const subpath = parts.slice(nameLength).join("/");
    for (let at = dir; at.startsWith(WORK_DIR); at = posix.dirname(at)) {
      const root = posix.join(at, "node_modules", name);
      if ((await this.kind(root)) !== "dir") {
        if (at === WORK_DIR) break;
        continue;
      }
      const pkg = await this.packageJson(posix.join(root, "package.json"));
      const exported = pkg ? exportsTarget(pkg.exports, subpath ? `./${subpath}` : ".", kind) : null;
      if (exported) return this.file(posix.resolve(root, exported));
      return this.file(subpath ? posix.join(root, subpath) : root);
    }
    return null;
  }

  private async packageJson(path: string): Promise<Record<string, unknown> | null> {
    if ((await this.kind(path)) !== "file") return null;
    try {
      const value: unknown = JSON.parse(await this.load(path));
      return value && typeof value === "object" ? (value as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  }

  private async format(path: string): Promise<Format> {
    if (/\.(mjs|mts)$/.test(path)) return "esm";
    if (/\.(cjs|cts)$/.test(path)) return "cjs";
    if (path.endsWith(".json")) return "json";
    for (let dir = posix.dirname(path); dir.startsWith(WORK_DIR); dir = posix.dirname(dir)) {
      const pkg = await this.packageJson(posix.join(dir, "package.json"));
      if (pkg?.type === "module") return "esm";
      if (pkg?.type === "commonjs") return "cjs";
      if (pkg || dir === WORK_DIR) break;
    }
    return detectFormat(await this.load(path));
  }
}

/** CommonJS unless only a module parse succeeds (import/export, top-level await, import.meta). */
export function detectFormat(source: string): "cjs" | "esm" {
  try {
    Parser.parse(source, { ecmaVersion: "latest", sourceType: "script", allowReturnOutsideFunction: true, allowHashBang: true });
    return "cjs";
  } catch {
    try {
      Parser.parse(source, { ecmaVersion: "latest", sourceType: "module", allowHashBang: true });
      return "esm";
    } catch {
      return "cjs";
    }
  }
}

function exportsTarget(exports: unknown, subpath: string, kind: "require" | "import"): string | null {
  if (exports === undefined || exports === null) return null;
  if (typeof exports === "string") return subpath === "." ? exports : null;
  if (Array.isArray(exports)) {
    for (const e of exports) {
      const t = exportsTarget(e, subpath, kind);
      if (t) return t;
    }
    return null;
  }
  if (typeof exports !== "object") return null;
  const map = exports as Record<string, unknown>;
  const keys = Object.keys(map);
  if (keys.length > 0 && keys.every((k) => k.startsWith("."))) {
    return Object.hasOwn(map, subpath) ? conditional(map[subpath], kind) : null;
  }
  return subpath === "." ? conditional(map, kind) : null;
}

function conditional(target: unknown, kind: "require" | "import"): string | null {
  if (typeof target === "string") return target;
  if (!target || typeof target !== "object") return null;
  for (const [cond, value] of Object.entries(target as Record<string, unknown>)) {
    if (cond === kind || cond === "node" || cond === "default") {
      const t = conditional(value, kind);
      if (t) return t;
    }
  }
  return null;
}

/** The session path of an absolute in-sandbox path, or null outside /home/work. */
export function sessionPath(path: string): string | null {
  try {
    return toSessionPath(path);
  } catch {
    return null;
  }
}

function notFound(spec: string, from: string, kind: "require" | "import"): ModuleError {
  if (kind === "require") return new ModuleError("MODULE_NOT_FOUND", `Cannot find module '${spec}'\nRequire stack:\n- ${from}`);
  const relative = spec.startsWith(".") || spec.startsWith("/") || spec.startsWith("file:");
  return new ModuleError(
    "ERR_MODULE_NOT_FOUND",
    relative ? `Cannot find module '${posix.resolve(posix.dirname(from), spec)}' imported from ${from}` : `Cannot find package '${spec}' imported from ${from}`,
  );
}

/** Node's layout for a syntax error: file:line, the line, a caret, then the error. */
export function syntaxError(file: string, source: string, error: unknown): SyntaxError {
  const loc = (error as { loc?: { line: number; column: number } }).loc;
  const message = error instanceof Error ? error.message.replace(/ \(\d+:\d+\)$/, "") : String(error);
  const err = new SyntaxError(message);
  if (loc) {
    const line = source.split("\n")[loc.line - 1] ?? "";
    err.stack = `${file}:${loc.line}\n${line}\n${" ".repeat(loc.column)}^\n\nSyntaxError: ${message}\n    at ${file}:${loc.line}:${loc.column + 1}`;
  } else err.stack = `${file}\nSyntaxError: ${message}`;
  return err;
}

export { TranspileError };
