// Module resolution and sources over the session's files for the QuickJS
// kernel: relative and absolute paths under /home/work, extension and index
// lookup, TypeScript's "./x.js" → "./x.ts", the guest's built-ins. No
// node_modules packages yet. TypeScript is stripped by the isolate kernel's
// transpiler; a file's format comes from its extension or its syntax.

import { Parser } from "acorn";
import { parse as cjsExports, initSync } from "cjs-module-lexer";
import type { Vfs } from "../../vfs/vfs.ts";
import { toSessionPath, WORK_DIR } from "../../vfs/paths.ts";
import { isTypeScript, stripTypes } from "../isolate/transpile.ts";
import { dirname, resolvePath } from "./posix.ts";

export type Format = "cjs" | "esm" | "json" | "builtin";

export const BUILTINS = new Set(["fs", "fs/promises", "path", "path/posix", "process", "util", "console"]);
const EXTENSIONS = [".js", ".mjs", ".cjs", ".ts", ".mts", ".cts", ".json"];
const TS_TWIN: Record<string, string> = { ".js": ".ts", ".mjs": ".mts", ".cjs": ".cts" };
const decoder = new TextDecoder();

export class ModuleError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The session path of an absolute in-sandbox path, or null outside /home/work. */
export function sessionPath(path: string): string | null {
  try {
    return toSessionPath(path);
  } catch {
    return null;
  }
}

export class Modules {
  constructor(private readonly vfs: Vfs) {}

  async resolve(spec: string, from: string, kind: "require" | "import"): Promise<{ path: string; format: Format }> {
    const bare = spec.replace(/^node:/, "");
    if (BUILTINS.has(bare)) return { path: `node:${bare}`, format: "builtin" };
    if (spec.startsWith("node:") || !/^(\.{1,2}(\/|$)|\/)/.test(spec)) {
      const what = spec.startsWith("node:") ? `the built-in module '${bare}' is not available here` : "packages are not supported by this kernel";
      throw new ModuleError(kind === "require" ? "MODULE_NOT_FOUND" : "ERR_MODULE_NOT_FOUND", `Cannot find module '${spec}': ${what} (built-ins: ${[...BUILTINS].join(", ")})`);
    }
    const target = await this.file(resolvePath(dirname(from), spec));
    if (target === null) throw new ModuleError(kind === "require" ? "MODULE_NOT_FOUND" : "ERR_MODULE_NOT_FOUND", `Cannot find module '${resolvePath(dirname(from), spec)}' from ${from}`);
    return { path: target, format: await this.format(target) };
  }

  /** A file's source, TypeScript stripped. */
  async source(path: string): Promise<string> {
    const sp = sessionPath(path);
    if (sp === null || (await this.vfs.stat(sp))?.kind !== "file") throw new ModuleError("MODULE_NOT_FOUND", `Cannot find module '${path}'`);
    let source = decoder.decode(await this.vfs.readFile(sp));
    if (source.charCodeAt(0) === 0xfeff) source = source.slice(1);
    return isTypeScript(path) ? stripTypes(source, path) : source;
  }

  /** The ES module text a file is imported as: its own, or a wrapper of a CommonJS/JSON/built-in module. */
  async esmSource(path: string, builtinNames: Record<string, string[]>): Promise<string> {
    if (path.startsWith("node:")) {
      const name = path.slice(5);
      return reexport(`globalThis.__kiln.builtin(${JSON.stringify(name)})`, builtinNames[name] ?? []);
    }
    const format = await this.format(path);
    if (format === "esm") return this.source(path);
    const names = format === "json" ? [] : namedExports(await this.source(path));
    return reexport(`globalThis.__kiln.requireFrom(${JSON.stringify(path)}, ${JSON.stringify(format)})`, names);
  }

  async format(path: string): Promise<Format> {
    if (/\.(mjs|mts)$/.test(path)) return "esm";
    if (/\.(cjs|cts)$/.test(path)) return "cjs";
    if (path.endsWith(".json")) return "json";
    return detectFormat(await this.source(path));
  }

  private async kind(path: string): Promise<"file" | "dir" | null> {
    const sp = sessionPath(path);
    const stat = sp === null ? null : await this.vfs.stat(sp);
    return stat?.kind === "file" ? "file" : stat?.kind === "dir" ? "dir" : null;
  }

  private async file(base: string): Promise<string | null> {
    if (!base.startsWith(WORK_DIR)) return null;
    const kind = await this.kind(base);
    if (kind === "file") return base;
    for (const ext of EXTENSIONS) if ((await this.kind(base + ext)) === "file") return base + ext;
    const ext = /\.[^./]+$/.exec(base)?.[0] ?? "";
    const twin = TS_TWIN[ext];
    if (twin && (await this.kind(base.slice(0, -ext.length) + twin)) === "file") return base.slice(0, -ext.length) + twin;
    if (kind === "dir") for (const e of EXTENSIONS) if ((await this.kind(`${base}/index${e}`)) === "file") return `${base}/index${e}`;
    return null;
  }
}

/** CommonJS unless only a module parse succeeds (import/export, top-level await). */
function detectFormat(source: string): "cjs" | "esm" {
  const parses = (sourceType: "script" | "module") => {
    try {
      Parser.parse(source, { ecmaVersion: "latest", sourceType, allowReturnOutsideFunction: sourceType === "script", allowHashBang: true });
      return true;
    } catch {
      return false;
    }
  };
  return !parses("script") && parses("module") ? "esm" : "cjs";
}

let lexerReady = false;
function namedExports(source: string): string[] {
  if (!lexerReady) {
    initSync();
    lexerReady = true;
  }
  try {
    return cjsExports(source).exports.filter((n) => /^[A-Za-z_$][\w$]*$/.test(n) && n !== "default");
  } catch {
    return [];
  }
}

function reexport(expression: string, names: string[]): string {
  const unique = [...new Set(names)];
  return `const m = ${expression};\nexport default m;\n${unique.length ? `export const { ${unique.join(", ")} } = m;\n` : ""}`;
}
