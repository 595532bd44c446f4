// The contract between the session layer (sessions/run.ts) and a kernel.
// A kernel runs one thing at a time: a batch step's command or a query's code.
// It knows nothing of runs, runIds, HTTP or flushing: it writes output to the
// StepIO it is handed, asks it for input, watches its signal, and resolves with
// an exit code. The run machinery turns that into Backend.AI's control records.

import type { Vfs } from "../vfs/vfs.ts";

export type BatchStep = "clean" | "build" | "exec";

/** A console item in Backend.AI's wire shape. */
export type ConsoleItem =
  | ["stdout", string]
  | ["stderr", string]
  | ["media", [mime: string, content: string]]
  | ["html", string]
  | ["log", [level: "debug" | "info" | "warning" | "error" | "fatal", time: string, logger: string, message: string]];

export interface InputRequest {
  /** Jupyter-style password prompt (query mode); batch programs reading stdin ask with false. */
  isPassword: boolean;
  /** Text the program printed as its prompt, already written to stdout by the kernel if it matters. */
  prompt?: string;
}

export interface StepIO {
  /**
   * Program output. Bytes are decoded as UTF-8 with replacement, incrementally per stream.
   * Returns false once the run's output limit is reached: everything further is dropped,
   * so a kernel may stop producing it.
   */
  write(stream: "stdout" | "stderr", data: string | Uint8Array): boolean;
  /** A rich item (media, html, log). */
  emit(item: ConsoleItem): void;
  /**
   * Suspends the run with status waiting-input until the client sends `mode: "input"`.
   * Rejects with the signal's reason if the step is aborted while waiting.
   */
  readInput(request: InputRequest): Promise<string>;
  /**
   * Aborted when the step must stop: its time limit passed, the client interrupted it,
   * the kernel restarts or the session is destroyed. The reason is a StepAbort.
   * The kernel then stops the step's processes and resolves soon (its exit code is ignored).
   */
  readonly signal: AbortSignal;
}

export type StepAbortReason = "timeout" | "interrupt" | "restart" | "destroy";

export class StepAbort extends Error {
  override name = "StepAbort";
  constructor(readonly reason: StepAbortReason) {
    super(`step aborted: ${reason}`);
  }
}

export interface Kernel {
  /**
   * Runs a batch step's command. Never called with "" (the run skips empty steps);
   * "*" means the kernel's default for that step. Resolves with the exit code;
   * 127 when the command or a file it needs does not exist.
   */
  step(step: BatchStep, command: string, io: StepIO): Promise<number>;
  /** Runs query-mode code in the session's persistent context. */
  query(code: string, io: StepIO): Promise<number>;
  /** Completions for `mode: "complete"`; kernels without them return []. */
  complete(code: string, options: Record<string, unknown>): Promise<string[]>;
  /** Fresh interpreter state, files kept (PATCH /session/:id). Called with no step running. */
  restart(): Promise<void>;
  /** Releases everything the kernel holds. Called once, with no step running. */
  destroy(): Promise<void>;
  /** Figures for DELETE's stats and GET's info, e.g. memory or CPU used. */
  stats(): Record<string, number>;
}

export interface SessionLimits {
  /** Wall-clock limit of one batch step or one query, in ms. */
  stepTimeoutMs: number;
  /** Memory in MiB, from config.resources.mem or the server default. */
  memoryMiB: number;
  /** CPU cores, from config.resources.cpu or the server default. */
  cpus: number;
  /** Output bytes per run, stdout and stderr together; the run drops what is past it and says so once on stderr. */
  outputBytes: number;
}

export interface KernelContext {
  sessionId: string;
  /** The canonical image name the session was created with, e.g. "python". */
  image: string;
  vfs: Vfs;
  /** config.environ, validated: keys match ^[A-Za-z_][A-Za-z0-9_]*$. */
  environ: Record<string, string>;
  limits: SessionLimits;
}

/** Creates kernels for a set of images. One factory per kernel kind. */
export interface KernelFactory {
  /** A short name for logs and /healthz, e.g. "isolate" or "podman". */
  readonly name: string;
  /** Canonical image names this factory serves (see catalog.ts). */
  readonly images: readonly string[];
  /** Which VFS backend sessions of this factory need. */
  readonly vfs: "memory" | "disk";
  /** This kernel's limits where the session asks for none (the server's limits still cap them). */
  readonly defaults?: Partial<SessionLimits>;
  /** Owner of files the server writes into disk-backed sessions (the container's user). */
  readonly owner?: { uid: number; gid: number };
  /** Programs write to the session directory directly, so the quota needs a filesystem of its own. */
  readonly confineDisk?: boolean;
  create(context: KernelContext): Promise<Kernel>;
  /** Called when the server has had no sessions for a while: give back memory that sessions left behind. */
  trim?(): Promise<void>;
  /** Called once at server shutdown, after every session is destroyed. */
  close?(): Promise<void>;
}
