// The host side of the runner channel: a unix socket to kiln-runner, PID 1 of a session
// container (sandbox-images/runner/runner.c describes the wire format). One step at a
// time; output arrives as it is produced, input requests as the program blocks on stdin.
// Everything the runner sends is treated as untrusted: frames are bounds-checked and
// a runner that breaks the protocol loses its connection (and so its container).

import { connect, type Socket } from "node:net";

export const PROTOCOL = "kiln-runner/1";
/** The runner sends output in chunks of at most 64 KiB; anything far bigger is a broken runner. */
const MAX_INCOMING_FRAME = 1 << 20;

export type StepRequest =
  | { kind: "shell"; command: string; env: readonly string[] }
  | { kind: "repl"; code: string; argv: readonly string[]; env: readonly string[] };

export interface StepHandlers {
  output(stream: "stdout" | "stderr", data: Uint8Array): void;
  waiting(password: boolean): void;
}

export interface ExitReport {
  /** Exit status; 128+n for signal n; 127 when the step could not start. */
  code: number;
  /** The memory cgroup OOM-killed a process during the step. */
  oom: boolean;
  /** The step was stopped by kill(). */
  killed: boolean;
  /** Peak resident memory of the step's largest process, KiB. */
  peakRssKiB: number;
}

export class RunnerClosed extends Error {
  override name = "RunnerClosed";
}

interface Pending {
  handlers: StepHandlers;
  resolve(report: ExitReport): void;
  reject(error: Error): void;
}

export class RunnerChannel {
  private buffer: Buffer = Buffer.alloc(0);
  private pending: Pending | null = null;
  private hello: { resolve(): void; reject(error: Error): void } | null = null;
  private closedError: Error | null = null;
  private readonly closeListeners: Array<() => void> = [];

  private constructor(private readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    socket.on("error", (error) => this.fail(new RunnerClosed(`runner connection: ${error.message}`)));
    socket.on("close", () => this.fail(new RunnerClosed("the runner closed its connection")));
  }

  /** Connects to a runner's socket, retrying until it exists, and waits for its hello. */
  static async connect(path: string, timeoutMs = 10_000): Promise<RunnerChannel> {
    const deadline = Date.now() + timeoutMs;
    for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
      try {
        const socket = await openSocket(path);
        const channel = new RunnerChannel(socket);
        await channel.waitHello(Math.max(1000, deadline - Date.now()));
        return channel;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if ((code !== "ENOENT" && code !== "ECONNREFUSED") || Date.now() >= deadline) throw error;
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  get closed(): boolean {
    return this.closedError !== null;
  }

  /** Called once when the connection ends, whoever ended it. */
  onClose(listener: () => void): void {
    if (this.closedError) listener();
    else this.closeListeners.push(listener);
  }

  /** Runs one step; resolves with its exit report, rejects with RunnerClosed if the runner goes away. */
  exec(request: StepRequest, outputCapBytes: number, handlers: StepHandlers): Promise<ExitReport> {
    if (this.closedError) return Promise.reject(this.closedError);
    if (this.pending) return Promise.reject(new Error("a step is already running on this runner"));
    const fields =
      request.kind === "shell"
        ? [request.command, ...request.env]
        : [request.code, request.argv.join("\0"), ...request.env];
    for (const field of fields.slice(request.kind === "shell" ? 0 : 2)) {
      if (field.includes("\0")) return Promise.reject(new Error("step text and environment entries cannot contain NUL"));
    }
    const encoded = fields.map((f) => Buffer.from(f, "utf8"));
    const head = Buffer.alloc(9);
    head.writeUInt8(request.kind === "shell" ? 0 : 1, 0);
    head.writeUInt32BE(Math.max(0, Math.min(outputCapBytes, 0xffffffff)), 1);
    head.writeUInt32BE(encoded.length, 5);
    const parts: Buffer[] = [head];
    for (const field of encoded) {
      const length = Buffer.alloc(4);
      length.writeUInt32BE(field.length, 0);
      parts.push(length, field);
    }
    return new Promise<ExitReport>((resolve, reject) => {
      this.pending = { handlers, resolve, reject };
      this.send("X", Buffer.concat(parts));
    });
  }

  /** Bytes for the program's stdin (the answer to a waiting request). */
  input(data: string): void {
    this.send("I", Buffer.from(data, "utf8"));
  }

  /** Stops the current step: its processes are killed and its exit report follows. */
  kill(): void {
    this.send("K", Buffer.alloc(0));
  }

  /** Ends the connection: the runner kills everything and exits, and the container with it. */
  close(): void {
    this.socket.destroy();
    this.fail(new RunnerClosed("closed"));
  }

  private waitHello(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.socket.destroy();
        reject(new RunnerClosed("no hello from the runner"));
      }, timeoutMs);
      this.hello = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
    });
  }

  private send(type: string, payload: Buffer): void {
    if (this.closedError) return;
    const head = Buffer.alloc(5);
    head.write(type, 0, "latin1");
    head.writeUInt32BE(payload.length, 1);
    this.socket.write(Buffer.concat([head, payload]));
  }

  private receive(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    while (this.buffer.length >= 5) {
      const length = this.buffer.readUInt32BE(1);
      if (length > MAX_INCOMING_FRAME) return this.breakProtocol(`a frame of ${length} bytes`);
      if (this.buffer.length < 5 + length) return;
      const type = String.fromCharCode(this.buffer[0]!);
      const payload = this.buffer.subarray(5, 5 + length);
      this.buffer = this.buffer.subarray(5 + length);
      this.dispatch(type, payload);
      if (this.closedError) return;
    }
  }

  private dispatch(type: string, payload: Buffer): void {
    if (type === "H") {
      if (payload.toString("latin1") !== PROTOCOL) return this.breakProtocol(`hello ${JSON.stringify(payload.toString("latin1"))}`);
      this.hello?.resolve();
      this.hello = null;
      return;
    }
    const step = this.pending;
    if (!step) return; // output after a step ended (a straggler's last bytes) is dropped
    switch (type) {
      case "O":
      case "E":
        step.handlers.output(type === "O" ? "stdout" : "stderr", new Uint8Array(payload));
        return;
      case "W":
        step.handlers.waiting(payload[0] === 1);
        return;
      case "Z": {
        if (payload.length < 9) return this.breakProtocol("a short exit report");
        this.pending = null;
        step.resolve({
          code: payload.readInt32BE(0),
          oom: (payload[4]! & 1) !== 0,
          killed: (payload[4]! & 2) !== 0,
          peakRssKiB: payload.readUInt32BE(5),
        });
        return;
      }
      default:
        return this.breakProtocol(`frame type ${JSON.stringify(type)}`);
    }
  }

  private breakProtocol(what: string): void {
    this.socket.destroy();
    this.fail(new RunnerClosed(`the runner broke the protocol: ${what}`));
  }

  private fail(error: Error): void {
    if (this.closedError) return;
    this.closedError = error;
    this.hello?.reject(error);
    this.hello = null;
    const step = this.pending;
    this.pending = null;
    step?.reject(error);
    for (const listener of this.closeListeners.splice(0)) listener();
  }
}

function openSocket(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    socket.once("connect", () => {
      socket.removeListener("error", reject);
      resolve(socket);
    });
    socket.once("error", reject);
  });
}
