// Reading input. Blocking reads (prompt(), fs.readFileSync(0), readline's
// question()) ask the host synchronously. Stream reads (process.stdin 'data',
// readline's 'line' and async iteration) are served by the host's loop when
// nothing else is pending: each answer arrives as a line; an empty answer is
// end of input.

import { emit, op } from "./host.ts";
import { EventEmitter } from "./events.ts";
import { Buffer } from "./buffer.ts";

/** One line of input (without its newline), asking with `prompt` shown on stdout. */
export function readLine(prompt = ""): string {
  if (prompt) emit({ s: 1, t: prompt }, prompt.length);
  return op<string>("input", prompt);
}

class Stdin extends EventEmitter {
  readonly fd = 0;
  readonly isTTY = false;
  readableEnded = false;
  private encoding: string | null = null;
  private flowing: boolean | null = null;
  private buffered: string[] = [];

  constructor() {
    super();
    this.on("newListener", (name: string | symbol) => {
      if (name === "data" && this.flowing !== false) this.flowing = true;
    });
  }

  setEncoding(enc: string): this {
    this.encoding = enc;
    return this;
  }

  resume(): this {
    this.flowing = true;
    return this;
  }

  pause(): this {
    this.flowing = false;
    return this;
  }

  isPaused(): boolean {
    return this.flowing === false;
  }

  read(): string | Buffer | null {
    const chunk = this.buffered.shift();
    return chunk === undefined ? null : this.chunk(chunk);
  }

  unref(): this {
    return this;
  }

  ref(): this {
    return this;
  }

  /** Whether the program is waiting for stream input. */
  wanted(): boolean {
    if (this.readableEnded) return false;
    return (this.flowing === true && this.listenerCount("data") > 0) || this.listenerCount("readable") > 0 || waiters > 0;
  }

  /** An answer from the host: a line, or null / "" for end of input. */
  deliver(text: string | null): void {
    if (text === null || text === "") {
      this.readableEnded = true;
      this.emit("end");
      this.emit("close");
      return;
    }
    const line = text.endsWith("\n") ? text : text + "\n";
    if (this.listenerCount("readable") > 0) {
      this.buffered.push(line);
      this.emit("readable");
    } else {
      this.emit("data", this.chunk(line));
    }
  }

  private chunk(text: string): string | Buffer {
    return this.encoding ? text : Buffer.from(text);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<string | Buffer> {
    while (!this.readableEnded) {
      const chunk = await nextChunk(this);
      if (chunk === null) return;
      yield chunk;
    }
  }
}

let waiters = 0;

function nextChunk(stdin: Stdin): Promise<string | Buffer | null> {
  waiters++;
  return new Promise((resolve) => {
    const done = (value: string | Buffer | null) => {
      waiters--;
      stdin.removeListener("data", onData);
      stdin.removeListener("end", onEnd);
      resolve(value);
    };
    const onData = (chunk: string | Buffer) => done(chunk);
    const onEnd = () => done(null);
    stdin.prependListener("data", onData);
    stdin.on("end", onEnd);
  });
}

export const stdin = new Stdin();

/** node:readline's Interface over process.stdin. */
export class Interface extends EventEmitter {
  closed = false;
  terminal = false;
  line = "";
  private promptText = "> ";
  private partial = "";
  private readonly onData = (chunk: string | Buffer) => this.feed(String(chunk));
  private readonly onEnd = () => this.close();
  private readonly usePromises: boolean;

  constructor(options: { prompt?: string } = {}, usePromises = false) {
    super();
    if (typeof options.prompt === "string") this.promptText = options.prompt;
    this.usePromises = usePromises;
    this.on("newListener", (name: string | symbol) => {
      if (name === "line") this.listen();
    });
  }

  private listen(): void {
    if (stdin.listeners("data").includes(this.onData)) return;
    stdin.on("data", this.onData);
    stdin.on("end", this.onEnd);
    stdin.resume();
  }

  private feed(text: string): void {
    const lines = (this.partial + text).split(/\r?\n/);
    this.partial = lines.pop() ?? "";
    for (const line of lines) this.emit("line", line);
  }

  setPrompt(prompt: string): void {
    this.promptText = String(prompt);
  }

  getPrompt(): string {
    return this.promptText;
  }

  prompt(): void {
    emit({ s: 1, t: this.promptText }, this.promptText.length);
    this.listen();
  }

  question(query: string, ...rest: unknown[]): Promise<string> | void {
    const cb = rest.find((r) => typeof r === "function") as ((answer: string) => void) | undefined;
    if (this.closed) {
      const err = new Error("readline was closed") as Error & { code: string };
      err.code = "ERR_USE_AFTER_CLOSE";
      if (this.usePromises) return Promise.reject(err);
      throw err;
    }
    const answer = readLine(String(query));
    if (this.usePromises) return Promise.resolve(answer);
    if (cb) queueMicrotask(() => cb(answer));
  }

  write(data: string): void {
    if (typeof data === "string") this.feed(data);
  }

  pause(): this {
    stdin.pause();
    return this;
  }

  resume(): this {
    this.listen();
    return this;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    stdin.removeListener("data", this.onData);
    stdin.removeListener("end", this.onEnd);
    if (this.partial) {
      this.emit("line", this.partial);
      this.partial = "";
    }
    this.emit("close");
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<string> {
    const lines: string[] = [];
    let wake: (() => void) | null = null;
    const onLine = (line: string) => {
      lines.push(line);
      wake?.();
    };
    const onClose = () => wake?.();
    this.on("line", onLine);
    this.on("close", onClose);
    try {
      while (true) {
        if (lines.length > 0) {
          yield lines.shift()!;
          continue;
        }
        if (this.closed) return;
        waiters++;
        await new Promise<void>((resolve) => (wake = resolve));
        waiters--;
        wake = null;
      }
    } finally {
      this.off("line", onLine);
      this.off("close", onClose);
    }
  }
}

export function readlineModule(usePromises: boolean) {
  return {
    Interface,
    createInterface: (options: unknown = {}) => new Interface((typeof options === "object" && options ? options : {}) as { prompt?: string }, usePromises),
    clearLine: () => true,
    cursorTo: () => true,
    moveCursor: () => true,
    emitKeypressEvents: () => {},
  };
}
