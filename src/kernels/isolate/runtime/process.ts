// The `process` object: argv, env (config.environ), exit/exitCode, stdout and
// stderr writes, stdin, nextTick, hrtime and the rest programs commonly touch.

import { emit, op } from "./host.ts";
import { EventEmitter } from "./events.ts";
import { Buffer } from "./buffer.ts";
import { ExitSignal, state } from "./loop.ts";
import { stdin } from "./stdin.ts";
import { CWD } from "./path.ts";
import { format } from "./util.ts";

class Output extends EventEmitter {
  readonly isTTY = false;
  readonly columns = 80;
  readonly rows = 24;
  writable = true;
  constructor(readonly fd: 1 | 2) {
    super();
  }
  write(chunk: unknown, enc?: unknown, cb?: unknown): boolean {
    const done = typeof enc === "function" ? enc : cb;
    if (typeof chunk === "string") {
      const text = typeof enc === "string" && enc !== "utf8" && enc !== "utf-8" ? Buffer.from(chunk, enc).toString() : chunk;
      emit({ s: this.fd, t: text }, text.length);
    } else if (chunk instanceof Uint8Array) {
      emit({ s: this.fd, b: chunk.slice() }, chunk.length);
    } else {
      const err = new TypeError(`The "chunk" argument must be of type string or an instance of Buffer or Uint8Array. Received ${typeof chunk}`) as TypeError & { code: string };
      err.code = "ERR_INVALID_ARG_TYPE";
      throw err;
    }
    if (typeof done === "function") queueMicrotask(done as () => void);
    return true;
  }
  end(chunk?: unknown): void {
    if (chunk !== undefined && typeof chunk !== "function") this.write(chunk);
  }
  getColorDepth(): number {
    return 1;
  }
  hasColors(): boolean {
    return false;
  }
  cork(): void {}
  uncork(): void {}
}

const started = Date.now();

function hrtime(prev?: [number, number]): [number, number] {
  const ms = Date.now();
  let sec = Math.floor(ms / 1000);
  let ns = (ms % 1000) * 1e6;
  if (prev) {
    sec -= prev[0];
    ns -= prev[1];
    if (ns < 0) {
      sec--;
      ns += 1e9;
    }
  }
  return [sec, ns];
}
hrtime.bigint = () => BigInt(Date.now()) * 1_000_000n;

export interface ProcessConfig {
  argv: string[];
  env: Record<string, string>;
  version: string;
  versions: Record<string, string>;
}

export class Process extends EventEmitter {
  readonly title = "node";
  readonly pid = 1;
  readonly ppid = 0;
  readonly platform = "linux";
  readonly arch = "x64";
  readonly execPath = "/usr/local/bin/node";
  readonly execArgv: string[] = [];
  readonly argv0 = "node";
  readonly release = { name: "node" };
  readonly config = { variables: {} };
  readonly features = {};
  readonly stdout = new Output(1);
  readonly stderr = new Output(2);
  readonly stdin = stdin;
  readonly hrtime = hrtime;
  argv: string[] = ["/usr/local/bin/node"];
  env: Record<string, string> = {};
  version = "v20.0.0";
  versions: Record<string, string> = {};

  configure(config: ProcessConfig): void {
    this.argv = config.argv;
    this.env = config.env;
    this.version = config.version;
    this.versions = config.versions;
  }

  get exitCode(): number | undefined {
    return state.exitCode === 0 ? undefined : state.exitCode;
  }

  set exitCode(code: number | string | undefined) {
    state.exitCode = Number(code ?? 0) | 0;
  }

  exit(code?: number | string): never {
    const exitCode = code === undefined ? state.exitCode : Number(code) | 0;
    if (state.exiting === null) {
      state.exiting = exitCode;
      try {
        this.emit("exit", exitCode);
      } catch {
        // A throwing exit listener cannot stop the exit.
      }
    }
    throw new ExitSignal(exitCode);
  }

  reallyExit(code?: number): never {
    return this.exit(code);
  }

  abort(): never {
    return this.exit(134);
  }

  cwd(): string {
    return CWD;
  }

  chdir(dir: string): void {
    const err = new Error(`process.chdir() is not supported in this sandbox (cwd stays ${CWD}): ${String(dir)}`) as Error & { code: string };
    err.code = "ERR_WORKER_UNSUPPORTED_OPERATION";
    throw err;
  }

  nextTick(fn: (...args: unknown[]) => void, ...args: unknown[]): void {
    queueMicrotask(() => fn(...args));
  }

  uptime(): number {
    return (Date.now() - started) / 1000;
  }

  memoryUsage(): Record<string, number> {
    const heap = op<Record<string, number>>("heap");
    return { rss: heap.rss ?? 0, heapTotal: heap.heapTotal ?? 0, heapUsed: heap.heapUsed ?? 0, external: heap.external ?? 0, arrayBuffers: 0 };
  }

  cpuUsage(): { user: number; system: number } {
    return { user: Math.round((Date.now() - started) * 1000), system: 0 };
  }

  resourceUsage(): Record<string, number> {
    return { userCPUTime: 0, systemCPUTime: 0, maxRSS: 0 };
  }

  emitWarning(warning: unknown, type?: unknown): void {
    const name = typeof type === "string" ? type : warning instanceof Error ? warning.name : "Warning";
    const message = warning instanceof Error ? warning.message : format(warning);
    emit({ s: 2, t: `(node:1) ${name}: ${message}\n` }, message.length + 20);
  }

  umask(): number {
    return 0o022;
  }

  getuid(): number {
    return 1000;
  }

  getgid(): number {
    return 1000;
  }

  geteuid(): number {
    return 1000;
  }

  getegid(): number {
    return 1000;
  }

  kill(): never {
    const err = new Error("kill EPERM") as Error & { code: string };
    err.code = "EPERM";
    throw err;
  }

  binding(name: string): never {
    throw new Error(`No such module: ${name}`);
  }
}

export const process = new Process();
// process.memoryUsage.rss() is a function property of the method in Node.
Object.assign(Process.prototype.memoryUsage, { rss: () => op<Record<string, number>>("heap").rss ?? 0 });
