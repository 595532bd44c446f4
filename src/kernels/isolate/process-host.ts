// The server's side of the sandbox process (child.ts). Kernels here are thin:
// each call goes to the child, which reaches back for the session's files and
// console. When the child dies — V8 aborts a process whose isolate cannot fit
// one large allocation — the runs in flight end with "memory limit exceeded"
// and 137, a new child starts, and each session gets a fresh kernel there on
// its next run, files kept.

import { fork, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import type { BatchStep, Kernel, KernelContext, StepIO } from "../kernel.ts";
import type { Vfs } from "../../vfs/vfs.ts";
import { DEFAULT_LIMITS, type IsolateKernelFactory, type IsolateKernelOptions } from "./factory.ts";
import { Outbox } from "./outbox.ts";
import { toWire, VFS_METHODS, type KernelCall, type KernelSpec, type OutputItem, type ToChild, type ToParent, type VfsMethod, type Without } from "./protocol.ts";
import { MEMORY_EXIT } from "./run.ts";

/** The uid and gid the sandbox process drops to when the server runs as root. */
const NOBODY = 65534;

interface Pending {
  resolve(value: unknown): void;
  reject(error: unknown): void;
  io?: StepIO;
  kernel: RemoteKernel;
}

class ChildGone extends Error {
  override name = "ChildGone";
}

/** One sandbox process; a new one replaces it when it dies. */
class SandboxProcess {
  private child: ChildProcess | null = null;
  private outbox: Outbox<ToChild> | null = null;
  private ready: Promise<void> | null = null;
  private generation = 0;
  /** The generation of the child that is up and ready, 0 while none is. */
  readyGeneration = 0;
  private nextRid = 1;
  private readonly pending = new Map<number, Pending>();
  readonly kernels = new Map<number, RemoteKernel>();
  private closed = false;
  /** Times the child died. */
  restarts = 0;
  /** The child's resident memory once it was ready, to tell how much sessions left behind. */
  private baselineKiB = 0;
  /** Children replaced on purpose (see trim), whose end is not news. */
  private readonly retired = new WeakSet<ChildProcess>();

  constructor(private readonly options: IsolateKernelOptions) {}

  /** The live child's generation, starting one if needed. */
  async start(): Promise<number> {
    if (this.closed) throw new Error("the isolate kernel is closed");
    if (!this.child) this.spawn();
    await this.ready;
    return this.generation;
  }

  private spawn(): void {
    const entry = fileURLToPath(new URL("./child.ts", import.meta.url));
    const tsx = import.meta.resolve("tsx");
    const child = fork(entry, [], {
      execArgv: ["--no-node-snapshot", "--import", tsx],
      serialization: "advanced",
      // V8's out-of-memory report is long and says nothing the operator can act on: one line is logged instead.
      stdio: ["ignore", "ignore", "pipe", "ipc"],
      // Defence in depth should an isolate ever be escaped: none of the server's environment,
      // and no root (nobody's uid when the server runs as root).
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", TMPDIR: tmpdir(), LANG: "C.UTF-8", KILN_ISOLATE_OPTIONS: JSON.stringify(this.options) },
      ...(process.getuid?.() === 0 ? { uid: NOBODY, gid: NOBODY } : {}),
    });
    this.child = child;
    this.outbox = new Outbox<ToChild>((batch) => child.connected && child.send(batch));
    const generation = ++this.generation;
    let started = false;
    this.ready = new Promise<void>((resolve, reject) => {
      const onMessage = (batch: ToParent[]) => {
        if (batch.some((m) => m.t === "ready")) {
          started = true;
          this.readyGeneration = generation;
          this.baselineKiB = residentKiB(child.pid) ?? 0;
          child.off("exit", onEarlyExit);
          child.off("message", onMessage);
          resolve();
        }
      };
      const onEarlyExit = (code: number | null) => reject(new Error(`the sandbox process exited during start (${code})`));
      child.once("exit", onEarlyExit);
      child.on("message", onMessage);
    });
    this.ready.catch(() => {});
    let tail = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      tail = (tail + chunk.toString()).slice(-4096);
    });
    child.on("message", (batch: unknown) => {
      // The child is the less trusted side: anything but a batch of messages is ignored.
      if (Array.isArray(batch)) for (const m of batch as ToParent[]) this.onMessage(m);
    });
    child.on("exit", (code, signal) => {
      if (!this.closed && !this.retired.has(child)) {
        const oom = /heap out of memory|is_heap_oom|CALL_AND_RETRY_LAST|Reached heap limit/.test(tail);
        process.stderr.write(`kiln: the isolate sandbox process ended (${signal ?? `exit ${code}`}${oom ? ", a program exhausted V8's heap" : ""}); runs in flight end with 137, sessions continue in a new one\n`);
      }
      this.onExit(child);
      // The next run should not pay for the new process's start (it counts against its time
      // limit); a process that never got ready is not retried until something needs it.
      if (started && !this.closed && this.child === null) this.start().catch(() => {});
    });
  }

  private onExit(child: ChildProcess): void {
    if (this.child !== child) return;
    if (!this.retired.has(child)) this.restarts++;
    this.child = null;
    this.outbox = null;
    this.ready = null;
    this.readyGeneration = 0;
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(new ChildGone("the sandbox process ended"));
  }

  send(kernel: RemoteKernel, message: Without<Extract<ToChild, { rid: number; kid: number }>, "rid">, io?: StepIO): { rid: number; done: Promise<unknown> } {
    const rid = this.nextRid++;
    const done = new Promise<unknown>((resolve, reject) => this.pending.set(rid, { resolve, reject, io, kernel }));
    if (!this.child?.connected) {
      this.pending.get(rid)?.reject(new ChildGone("the sandbox process is not running"));
      this.pending.delete(rid);
    } else this.post({ ...message, rid } as ToChild);
    return { rid, done };
  }

  abort(rid: number, reason: NonNullable<StepIO["signal"]["reason"]>): void {
    const r = (reason as { reason?: unknown })?.reason;
    this.post({ t: "abort", rid, reason: typeof r === "string" ? r : "interrupt" } as ToChild);
  }

  private post(message: ToChild): void {
    this.outbox?.post(message);
  }

  private answer(qid: number, work: () => Promise<unknown>): void {
    work().then(
      (value) => this.post({ t: "answer", qid, ok: true, value }),
      (error: unknown) => this.post({ t: "answer", qid, ok: false, error: toWire(error) }),
    );
  }

  private onMessage(m: ToParent): void {
    switch (m.t) {
      case "reply": {
        const p = this.pending.get(m.rid);
        if (!p) return;
        this.pending.delete(m.rid);
        if (p.io && m.items) this.write(p.io, m.items);
        if (m.ok) {
          if (m.stats) p.kernel.lastStats = m.stats;
          p.resolve(m.value);
        } else p.reject(Object.assign(new Error(m.error.message), { name: m.error.name }));
        return;
      }
      case "write": {
        const io = this.pending.get(m.rid)?.io;
        if (io && !this.write(io, m.items)) this.post({ t: "output-cut", rid: m.rid });
        return;
      }
      case "input": {
        const io = this.pending.get(m.rid)?.io;
        this.answer(m.qid, () => (io ? io.readInput(m.request) : Promise.reject(new Error("no run is waiting for input"))));
        return;
      }
      case "vfs": {
        const kernel = this.kernels.get(m.kid);
        this.answer(m.qid, async () => {
          if (!kernel || !(VFS_METHODS as readonly string[]).includes(m.method)) throw new Error("no such session");
          const fn = kernel.vfs[m.method as VfsMethod] as (...args: unknown[]) => Promise<unknown>;
          return fn.apply(kernel.vfs, m.args);
        });
        return;
      }
    }
  }

  /** Hands output to the run; false once the run drops it. */
  private write(io: StepIO, items: OutputItem[]): boolean {
    let more = true;
    for (const item of items) more = io.write(item.stream, item.data) && more;
    return more;
  }

  /**
   * Replaces an idle child that has grown by more than trimAboveMiB since it started:
   * disposed isolates leave their memory to V8's and malloc's free lists, not to the
   * system, and only a new process gives it back. Nothing is lost: no kernel lives there.
   */
  async trim(): Promise<void> {
    const child = this.child;
    if (!child || this.closed || this.kernels.size > 0 || this.pending.size > 0) return;
    await this.ready;
    const rss = residentKiB(child.pid);
    if (rss === null || rss - this.baselineKiB < (this.options.trimAboveMiB ?? 32) * 1024) return;
    if (this.child !== child || this.kernels.size > 0 || this.pending.size > 0) return;
    this.retired.add(child);
    this.onExit(child);
    child.disconnect();
    await this.start();
  }

  close(): void {
    this.closed = true;
    this.readyGeneration = 0;
    const child = this.child;
    this.child = null;
    child?.disconnect();
    child?.kill();
  }
}

/** A process's resident set in KiB, where /proc tells it (Linux); null elsewhere. */
function residentKiB(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const match = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

let nextKid = 1;

class RemoteKernel implements Kernel {
  readonly kid = nextKid++;
  lastStats: Record<string, number> = {};
  /** The child generation this kernel lives in; a different one means it must be created again. */
  private generation = 0;
  private lost = 0;

  constructor(
    private readonly host: SandboxProcess,
    readonly vfs: Vfs,
    private readonly spec: KernelSpec,
  ) {}

  async ensure(): Promise<void> {
    const generation = await this.host.start();
    if (generation === this.generation) return;
    this.host.kernels.set(this.kid, this);
    await this.host.send(this, { t: "create", kid: this.kid, spec: this.spec }).done;
    this.generation = generation;
  }

  private async call(call: KernelCall, io?: StepIO): Promise<unknown> {
    if (this.generation === 0 || this.generation !== this.host.readyGeneration) await this.ensure();
    const { rid, done } = this.host.send(this, { t: "call", kid: this.kid, call }, io);
    const onAbort = () => this.host.abort(rid, io!.signal.reason);
    io?.signal.addEventListener("abort", onAbort, { once: true });
    try {
      return await done;
    } finally {
      io?.signal.removeEventListener("abort", onAbort);
    }
  }

  private async run(call: KernelCall, io: StepIO): Promise<number> {
    try {
      return (await this.call(call, io)) as number;
    } catch (error) {
      if (!(error instanceof ChildGone)) throw error;
      this.lost++;
      this.generation = 0;
      if (!io.signal.aborted) io.write("stderr", "memory limit exceeded\n");
      return MEMORY_EXIT;
    }
  }

  query(code: string, io: StepIO): Promise<number> {
    return this.run({ method: "query", code }, io);
  }

  step(step: BatchStep, command: string, io: StepIO): Promise<number> {
    return this.run({ method: "step", step, command }, io);
  }

  async complete(code: string, options: Record<string, unknown>): Promise<string[]> {
    try {
      return (await this.call({ method: "complete", code, options })) as string[];
    } catch {
      return [];
    }
  }

  async restart(): Promise<void> {
    try {
      await this.call({ method: "restart" });
    } catch (error) {
      if (!(error instanceof ChildGone)) throw error;
      this.generation = 0;
    }
  }

  async destroy(): Promise<void> {
    try {
      if (this.generation !== 0) await this.call({ method: "destroy" });
    } catch {
      // A kernel in a dead child is already gone.
    } finally {
      this.host.kernels.delete(this.kid);
    }
  }

  stats(): Record<string, number> {
    return { ...this.lastStats, sandboxRestarts: this.lost };
  }
}

/** The factory the server uses: kernels in a sandbox process. */
export function createRemoteFactory(options: IsolateKernelOptions = {}): IsolateKernelFactory {
  const host = new SandboxProcess(options);
  host.start().catch(() => {});
  return {
    name: "isolate",
    images: ["javascript", "typescript"],
    vfs: "memory",
    defaults: { ...DEFAULT_LIMITS, ...options.defaults },
    pooled: 0,
    async create(context: KernelContext): Promise<Kernel> {
      const { sessionId, image, environ, limits } = context;
      const kernel = new RemoteKernel(host, context.vfs, { sessionId, image, environ, limits });
      await kernel.ensure();
      return kernel;
    },
    trim: () => host.trim(),
    async close(): Promise<void> {
      host.close();
    },
  };
}
