// import() for programs: isolated-vm gives V8 no dynamic-import hook, so each
// `import(` in a source is rewritten to a runtime call that knows its referrer.
// Built-ins and CommonJS resolve inside the isolate; ES modules are linked and
// evaluated by the host's run loop (see run.ts), which then settles the promise.

import { Parser, type Node } from "acorn";

const INTERNAL = 'globalThis[Symbol.for("kiln.internal")]';

type AnyNode = Node & Record<string, unknown>;

function importStarts(node: unknown, out: number[]): void {
  if (!node || typeof node !== "object") return;
  if (Array.isArray(node)) {
    for (const child of node) importStarts(child, out);
    return;
  }
  const n = node as AnyNode;
  if (typeof n.type !== "string") return;
  if (n.type === "ImportExpression") out.push(n.start);
  for (const key of Object.keys(n)) {
    if (key !== "type" && key !== "start" && key !== "end" && key !== "loc") importStarts(n[key], out);
  }
}

/** `source` with every `import(…)` calling the runtime instead; unchanged when it has none or does not parse. */
export function rewriteDynamicImport(source: string, referrer: string): string {
  if (!/\bimport\s*\(/.test(source)) return source;
  let program: unknown;
  for (const sourceType of ["module", "script"] as const) {
    try {
      program = Parser.parse(source, {
        ecmaVersion: "latest",
        sourceType,
        allowHashBang: true,
        allowReturnOutsideFunction: sourceType === "script",
        allowAwaitOutsideFunction: true,
      });
      break;
    } catch {
      program = undefined;
    }
  }
  if (!program) return source;
  const starts: number[] = [];
  importStarts(program, starts);
  let out = source;
  for (const start of starts.sort((a, b) => b - a)) {
    out = `${out.slice(0, start)}${INTERNAL}.dynamicImport.bind(null, ${JSON.stringify(referrer)})${out.slice(start + "import".length)}`;
  }
  return out;
}
