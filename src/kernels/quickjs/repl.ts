// Top-level await in query mode. QuickJS evaluates scripts, which cannot
// await; an input that needs it runs as an async function instead, with its
// top-level declarations turned into global variables so they outlive the
// run as they would in Node's REPL. Inputs without top-level await run as
// they are.

import { Parser } from "acorn";
import type { ModuleDeclaration, Node, Pattern, Program, Statement } from "acorn";

function parses(code: string, allowAwait: boolean): Program | null {
  try {
    return Parser.parse(code, { ecmaVersion: "latest", sourceType: "script", allowAwaitOutsideFunction: allowAwait });
  } catch {
    return null;
  }
}

function names(pattern: Pattern, out: string[]): void {
  switch (pattern.type) {
    case "Identifier":
      out.push(pattern.name);
      break;
    case "ObjectPattern":
      for (const p of pattern.properties) names(p.type === "RestElement" ? p.argument : (p.value as Pattern), out);
      break;
    case "ArrayPattern":
      for (const p of pattern.elements) if (p) names(p, out);
      break;
    case "RestElement":
      names(pattern.argument, out);
      break;
    case "AssignmentPattern":
      names(pattern.left, out);
      break;
  }
}

export function replSource(code: string): string {
  if (!/\bawait\b/.test(code) || parses(code, false)) return code;
  const program = parses(code, true);
  if (!program) return code;
  const text = (node: Node) => code.slice(node.start, node.end);
  const globals: string[] = [];
  const body = program.body.map((statement: Statement | ModuleDeclaration) => {
    if (statement.type === "VariableDeclaration") {
      const assignments: string[] = [];
      for (const d of statement.declarations) {
        names(d.id, globals);
        if (d.init) assignments.push(`(${text(d.id)} = ${text(d.init)})`);
      }
      return `${assignments.join(", ") || "undefined"};`;
    }
    if (statement.type === "FunctionDeclaration" && statement.id) {
      globals.push(statement.id.name);
      return `${text(statement)}\nglobalThis.${statement.id.name} = ${statement.id.name};`;
    }
    if (statement.type === "ClassDeclaration" && statement.id) {
      globals.push(statement.id.name);
      return `${statement.id.name} = ${text(statement)};`;
    }
    return text(statement);
  });
  const declare = globals.length > 0 ? `var ${[...new Set(globals)].join(", ")};\n` : "";
  return `${declare}__kiln.track((async () => {\n${body.join("\n")}\n})());`;
}
