// ES modules through V8's own module system (isolated-vm's Module): the host
// compiles each file, links imports through ModuleHost, and wraps what is not
// an ES module — built-in shims, CommonJS files (named exports found by
// cjs-module-lexer, as Node does), JSON — in small generated modules.

import { parse as lexCommonJs } from "cjs-module-lexer";
import type { Context, Isolate, Module } from "isolated-vm";
import { ModuleHost, syntaxError, type Resolved } from "./resolve.ts";

const INTERNAL = 'globalThis[Symbol.for("kiln.internal")]';
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
const RESERVED = new Set(["default", "await", "yield", "let", "static", "implements", "interface", "package", "private", "protected", "public", "enum"]);

function namedExports(names: Iterable<string>, from: string): string {
  const safe = [...new Set(names)].filter((n) => IDENTIFIER.test(n) && !RESERVED.has(n));
  return safe.length > 0 ? `export const { ${safe.join(", ")} } = ${from};` : "";
}

export class EsmLinker {
  private readonly byPath = new Map<string, Promise<Module>>();
  private readonly pathOf = new Map<Module, string>();

  constructor(
    private readonly isolate: Isolate,
    private readonly modules: ModuleHost,
    /** Export names of a built-in shim, asked of the runtime. */
    private readonly builtinNames: (name: string) => Promise<string[]>,
  ) {}

  /** Compiles and links the graph under `entry`; the caller evaluates it. */
  async link(entry: string, context: Context): Promise<Module> {
    const main = await this.module({ path: entry, format: "esm" });
    await main.instantiate(context, async (spec, referrer) => {
      const from = this.pathOf.get(referrer) ?? entry;
      return this.module(await this.modules.resolve(spec, from, "import"));
    });
    return main;
  }

  private module(resolved: Resolved): Promise<Module> {
    const key = `${resolved.format}:${resolved.path}`;
    let pending = this.byPath.get(key);
    if (!pending) {
      pending = this.compile(resolved);
      this.byPath.set(key, pending);
    }
    return pending;
  }

  private async compile({ path, format }: Resolved): Promise<Module> {
    let code: string;
    let filename = `file://${path}`;
    switch (format) {
      case "builtin": {
        filename = `node:${path}`;
        const from = `${INTERNAL}.builtin(${JSON.stringify(path)})`;
        code = `const m = ${from};\nexport default m;\n${namedExports(await this.builtinNames(path), "m")}`;
        break;
      }
      case "json":
        code = `export default JSON.parse(${JSON.stringify(await this.modules.load(path))});`;
        break;
      case "cjs": {
        const source = await this.modules.loadCommonJs(path);
        let names: string[] = [];
        try {
          names = lexCommonJs(source).exports;
        } catch {
          names = [];
        }
        const from = `${INTERNAL}.requireFrom(${JSON.stringify(path)}, ${JSON.stringify(path)})`;
        code = `const m = ${from};\nexport default m;\n${namedExports(names, "m")}`;
        break;
      }
      default: {
        const source = await this.modules.load(path);
        const body = source.startsWith("#!") ? "//" + source : source;
        // import.meta is set on the first line, so line numbers stay the file's own.
        const dir = path.slice(0, path.lastIndexOf("/")) || "/";
        const meta = `import.meta.url = ${JSON.stringify(filename)}; import.meta.filename = ${JSON.stringify(path)}; import.meta.dirname = ${JSON.stringify(dir)}; `;
        code = meta + body;
        try {
          const module = await this.isolate.compileModule(code, { filename });
          this.pathOf.set(module, path);
          return module;
        } catch (error) {
          throw compileError(filename, source, error, meta.length);
        }
      }
    }
    const module = await this.isolate.compileModule(code, { filename });
    this.pathOf.set(module, path);
    return module;
  }
}

/**
 * isolated-vm reports "message [file:line:col]"; this gives Node's layout.
 * `prefix` is what was put before the source on its first line.
 */
export function compileError(filename: string, source: string, error: unknown, prefix = 0): Error {
  const message = error instanceof Error ? error.message : String(error);
  const m = /^(.*) \[(.*):(\d+):(\d+)\]$/s.exec(message);
  if (!m || !(error instanceof Error) || error.name !== "SyntaxError") return error instanceof Error ? error : new Error(message);
  const line = Number(m[3]);
  const column = Number(m[4]) - 1 - (line === 1 ? prefix : 0);
  return syntaxError(filename, source, Object.assign(new Error(m[1]), { loc: { line, column: Math.max(0, column) } }));
}
