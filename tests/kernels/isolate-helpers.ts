// A small real StepIO for driving the isolate kernel directly: it collects
// output per stream, answers readInput from a queue and can be aborted.

import { MemoryVfs } from "../../src/vfs/memory.ts";
import { StepAbort, type InputRequest, type Kernel, type SessionLimits, type StepIO } from "../../src/kernels/kernel.ts";
import { isolateKernelFactory, isolateUnavailableReason, type IsolateKernelFactory } from "../../src/kernels/isolate/index.ts";

export class TestIO implements StepIO {
  stdout = "";
  stderr = "";
  readonly prompts: InputRequest[] = [];
  private readonly controller = new AbortController();
  private readonly decoders = { stdout: new TextDecoder(), stderr: new TextDecoder() };

  constructor(
    private readonly inputs: string[] = [],
    private readonly limit = Infinity,
  ) {}

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Output as the run would take it; false (stop producing) once more than `limit` characters came. */
  write(stream: "stdout" | "stderr", data: string | Uint8Array): boolean {
    this[stream] += typeof data === "string" ? data : this.decoders[stream].decode(data, { stream: true });
    return this.stdout.length + this.stderr.length <= this.limit;
  }

  emit(): void {}

  readInput(request: InputRequest): Promise<string> {
    this.prompts.push(request);
    const next = this.inputs.shift();
    if (next !== undefined) return Promise.resolve(next);
    return new Promise((_, reject) => {
      const fail = () => reject(this.signal.reason);
      if (this.signal.aborted) fail();
      else this.signal.addEventListener("abort", fail, { once: true });
    });
  }

  abort(reason: "timeout" | "interrupt" = "timeout"): void {
    this.controller.abort(new StepAbort(reason));
  }
}

export interface Harness {
  factory: IsolateKernelFactory;
  vfs: MemoryVfs;
  kernel: Kernel;
  query(code: string, inputs?: string[]): Promise<{ code: number; stdout: string; stderr: string; io: TestIO }>;
  step(step: "clean" | "build" | "exec", command: string, inputs?: string[]): Promise<{ code: number; stdout: string; stderr: string; io: TestIO }>;
  write(path: string, text: string): Promise<void>;
  read(path: string): Promise<string>;
  close(): Promise<void>;
}

let shared: IsolateKernelFactory | null = null;

/** Kernels in this process: quicker to drive; the sandbox process has tests of its own. */
export function testFactory(): IsolateKernelFactory {
  shared ??= isolateKernelFactory({ poolSize: 1, inProcess: true });
  if (!shared) throw new Error(`isolated-vm is not available: ${isolateUnavailableReason()}`);
  return shared;
}

export async function harness(
  options: { image?: "javascript" | "typescript"; limits?: Partial<SessionLimits>; environ?: Record<string, string>; factory?: IsolateKernelFactory } = {},
): Promise<Harness> {
  const factory = options.factory ?? testFactory();
  const vfs = new MemoryVfs();
  const kernel = await factory.create({
    sessionId: Math.random().toString(36).slice(2),
    image: options.image ?? "javascript",
    vfs,
    environ: options.environ ?? {},
    limits: { stepTimeoutMs: 10_000, memoryMiB: 128, cpus: 1, outputBytes: 16 * 1024 * 1024, ...options.limits },
  });
  const run = async (fn: (io: TestIO) => Promise<number>, inputs: string[]) => {
    const io = new TestIO(inputs);
    const code = await fn(io);
    return { code, stdout: io.stdout, stderr: io.stderr, io };
  };
  return {
    factory,
    vfs,
    kernel,
    query: (code, inputs = []) => run((io) => kernel.query(code, io), inputs),
    step: (step, command, inputs = []) => run((io) => kernel.step(step, command, io), inputs),
    write: (path, text) => vfs.writeFiles([{ path, data: new TextEncoder().encode(text) }]),
    read: async (path) => new TextDecoder().decode(await vfs.readFile(path)),
    close: async () => {
      await kernel.destroy();
      await vfs.destroy();
    },
  };
}

/** Runs `fn` with an io that is aborted after `ms`, as the session layer does on a step timeout. */
export async function withTimeout(ms: number, fn: (io: TestIO) => Promise<number>): Promise<{ code: number; io: TestIO; elapsed: number }> {
  const io = new TestIO();
  const started = Date.now();
  const timer = setTimeout(() => io.abort("timeout"), ms);
  try {
    const code = await fn(io);
    return { code, io, elapsed: Date.now() - started };
  } finally {
    clearTimeout(timer);
  }
}
