// Top-level await in query mode, the way Node's REPL does it: the input becomes
// an async function whose top-level declarations are hoisted out as `var`s of
// the script, so they still survive into the next run. Only inputs that use
// await at the top level go through here; the rest run as plain scripts.

import { Parser, type Node } from "acorn";

interface Ranged {
  start: number;
  end: number;
}

type AnyNode = Node & Record<string, unknown>;

/** Names bound by a declaration pattern. */
function patternNames(node: AnyNode | null, out: string[]): void {
  if (!node) return;
  switch (node.type) {
    case "Identifier":
      out.push(node.name as string);
      break;
    case "ObjectPattern":
      for (const p of node.properties as AnyNode[]) patternNames((p.type === "RestElement" ? p.argument : p.value) as AnyNode, out);
      break;
    case "ArrayPattern":
      for (const e of node.elements as (AnyNode | null)[]) patternNames(e, out);
      break;
    case "RestElement":
      patternNames(node.argument as AnyNode, out);
      break;
    case "AssignmentPattern":
      patternNames(node.left as AnyNode, out);
      break;
  }
}

/**
 * The async-wrapped form of `code`, or null when it does not parse even with
 * top-level await (the caller then reports the original syntax error).
 */
export function wrapTopLevelAwait(code: string): string | null {
  let program: AnyNode;
  try {
    program = Parser.parse(code, { ecmaVersion: "latest", sourceType: "script", allowAwaitOutsideFunction: true }) as unknown as AnyNode;
  } catch {
    return null;
  }
  const hoisted = new Set<string>();
  const functions: string[] = [];
  const edits: { range: Ranged; text: string }[] = [];
  const src = (n: Ranged) => code.slice(n.start, n.end);

  for (const stmt of program.body as AnyNode[]) {
    if (stmt.type === "VariableDeclaration") {
      const parts: string[] = [];
      for (const decl of stmt.declarations as AnyNode[]) {
        const names: string[] = [];
        patternNames(decl.id as AnyNode, names);
        names.forEach((n) => hoisted.add(n));
        if (decl.init) parts.push(`(${src(decl.id as Ranged)} = ${src(decl.init as Ranged)})`);
      }
      edits.push({ range: stmt, text: parts.length > 0 ? `void (${parts.join(", ")});` : ";" });
    } else if (stmt.type === "FunctionDeclaration") {
      // Declarations stay in place (hoisted inside the wrapper); the script-level
      // var is set to them first thing, so line numbers do not move.
      const name = (stmt.id as AnyNode).name as string;
      hoisted.add(name);
      functions.push(`globalThis[${JSON.stringify(name)}] = ${name};`);
    } else if (stmt.type === "ClassDeclaration") {
      const name = (stmt.id as AnyNode).name as string;
      hoisted.add(name);
      edits.push({ range: stmt, text: `${name} = ${src(stmt)};` });
    }
  }

  let body = code;
  for (const edit of edits.sort((a, b) => b.range.start - a.range.start)) {
    body = body.slice(0, edit.range.start) + edit.text + body.slice(edit.range.end);
  }
  const declare = hoisted.size > 0 ? `var ${[...hoisted].join(", ")}; ` : "";
  return `${declare}(async () => { ${functions.join(" ")} ${body}\n})()`;
}

/** Whether a compile error may be V8's complaint about top-level await (its wording varies with the position). */
export function isAwaitError(error: unknown): boolean {
  return error instanceof Error && error.name === "SyntaxError";
}
