// Batch commands this kernel understands, having no shell: `node FILE [ARGS…]`,
// `tsc [FILES…]` and "*" (the step's default). Words split on whitespace, with
// single and double quotes and backslash escapes as a shell would.

export type Command =
  | { kind: "default" }
  | { kind: "node"; file: string; args: string[] }
  | { kind: "tsc"; files: string[] }
  | { kind: "unsupported"; reason: string };

export function splitWords(command: string): string[] | null {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < command.length; i++) {
    const c = command[i]!;
    if (quote) {
      if (c === quote) quote = null;
      else if (c === "\\" && quote === '"' && i + 1 < command.length) word += command[++i];
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === "\\" && i + 1 < command.length) {
      word += command[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote) return null;
  if (inWord) words.push(word);
  return words;
}

export function parseCommand(command: string): Command {
  if (command.trim() === "*") return { kind: "default" };
  const words = splitWords(command);
  if (!words || words.length === 0) return { kind: "unsupported", reason: `${command}: unsupported command` };
  const [program, ...rest] = words as [string, ...string[]];
  if (program === "node" || program === "nodejs") {
    const file = rest[0];
    if (file === undefined || file.startsWith("-")) {
      return { kind: "unsupported", reason: `${command}: unsupported command (this kernel runs \`node FILE [ARGS…]\`)` };
    }
    return { kind: "node", file, args: rest.slice(1) };
  }
  if (program === "tsc") {
    if (rest.some((r) => r.startsWith("-"))) return { kind: "unsupported", reason: `${command}: unsupported command (tsc takes no options here)` };
    return { kind: "tsc", files: rest };
  }
  return { kind: "unsupported", reason: `${program}: unsupported command` };
}
