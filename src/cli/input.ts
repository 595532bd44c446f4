// Where `kiln run` gets the lines a program asks for: --stdin FILE's lines, or the
// terminal's (or a pipe's) read only once the program first asks. At the end of input
// the program gets one empty answer (end of input to JavaScript readers); a program
// that asks again after that is stopped, since nothing more will come.

import { readFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";

export class EndOfInput extends Error {
  override name = "EndOfInput";
  constructor() {
    super("the program asked for more input after the end of its input; it was stopped");
  }
}

export interface LineSource {
  /** The next line without its newline; "" once at the end; then EndOfInput. */
  next(): Promise<string>;
  close(): void;
}

export async function fileLines(path: string): Promise<LineSource> {
  const text = await readFile(path, "utf8");
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === "") lines.pop();
  return queued(lines, () => Promise.resolve(null), () => undefined);
}

export function streamLines(input: Readable): LineSource {
  const waiting: ((line: string | null) => void)[] = [];
  const buffered: (string | null)[] = [];
  let reader: ReturnType<typeof createInterface> | undefined;
  const open = () => {
    reader = createInterface({ input, terminal: false });
    reader.on("line", (line) => deliver(line));
    reader.on("close", () => deliver(null));
  };
  const deliver = (line: string | null) => {
    const take = waiting.shift();
    if (take) take(line);
    else buffered.push(line);
  };
  const read = (): Promise<string | null> => {
    if (!reader) open();
    if (buffered.length > 0) return Promise.resolve(buffered.shift()!);
    return new Promise((resolve) => waiting.push(resolve));
  };
  return queued([], read, () => {
    reader?.close();
    input.pause?.();
  });
}

function queued(lines: string[], more: () => Promise<string | null>, close: () => void): LineSource {
  let ended = false;
  return {
    async next() {
      const line = lines.length > 0 ? lines.shift()! : ended ? null : await more();
      if (line !== null) return line;
      if (ended) throw new EndOfInput();
      ended = true;
      return "";
    },
    close,
  };
}
