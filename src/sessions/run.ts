// One run of Backend.AI's Code Execution Model: a query, or a batch of
// clean → build → exec. The run drives its kernel step by step, records console
// items and control records in order, and answers readers (the HTTP calls of
// one runId) at the next control record or after the flush interval.

import type { BatchStep, ConsoleItem, InputRequest, Kernel, StepIO } from "../kernels/kernel.ts";
import { StepAbort, type StepAbortReason } from "../kernels/kernel.ts";
import { ConsoleBuffer, type Control } from "./console.ts";
import { SessionError } from "./errors.ts";
import type { RunOutcome, StepName } from "./observer.ts";

export type RunStatus = Control["status"] | "continued";

export interface RunResult {
  runId: string;
  status: RunStatus;
  exitCode: number | null;
  options: Record<string, unknown> | null;
  files: never[];
  console: ConsoleItem[];
}

export interface BatchOptions {
  clean?: string | null;
  build?: string | null;
  exec?: string | null;
}

export type Job = { mode: "query"; code: string } | { mode: "batch"; options: BatchOptions };

export interface RunSettings {
  stepTimeoutMs: number;
  /** Output bytes of the whole run; past it output is dropped with one note on stderr. */
  outputBytes: number;
  capChars: number;
  /** Every stdout/stderr text, for the session's logs. */
  onOutput(text: string): void;
  /** Each step's and the run's end with its wall-clock seconds, for metrics (see observer.ts). */
  onStepEnd?(step: StepName, seconds: number): void;
  onEnd?(outcome: RunOutcome, seconds: number): void;
}

type Outcome = { exitCode: number } | { aborted: StepAbortReason };

/** How long a kernel may take to stop after its step was aborted before the run moves on without it. */
const ABORT_GRACE_MS = 5000;
/** Exit code of a step the client interrupted or the server stopped (SIGINT's 128 + 2). */
const EXIT_INTERRUPTED = 130;
/** Exit code Backend.AI reports for exec after a failed build, and for missing commands. */
const EXIT_NOT_RUN = 127;
/** Exit code of a step whose kernel threw: Backend.AI's runner uses -1 for its own failures. */
const EXIT_KERNEL_FAILED = -1;

export class Run {
  private readonly buffer: ConsoleBuffer;
  private current: AbortController | null = null;
  private abortReason: StepAbortReason | null = null;
  private wake: (() => void) | null = null;
  private reading: Promise<unknown> = Promise.resolve();
  private input: ((text: string) => void) | null = null;
  /** Why the run was refused before it started (no run slot): its readers get this error. */
  private refusal: { error: unknown } | null = null;
  private readonly stopper = new AbortController();
  /** The final record (finished or exec-timeout) has been recorded. */
  ended = false;
  /** ...and handed to a reader: the run is over for everyone. */
  delivered = false;
  private outputBytes = 0;
  private outputCut = false;
  private startedAt = 0;

  constructor(
    readonly id: string,
    private readonly job: Job,
    private readonly settings: RunSettings,
  ) {
    this.buffer = new ConsoleBuffer(settings.capChars);
  }

  /** Runs the job to its end. Called once, when the run reaches the head of its session's queue. */
  async execute(kernel: Kernel): Promise<void> {
    this.startedAt = performance.now();
    if (this.job.mode === "query") {
      const { code } = this.job;
      return this.end(await this.step("query", (io) => kernel.query(code, io)));
    }
    const { options } = this.job;
    let buildFailed = false;
    for (const step of ["clean", "build"] as const) {
      const outcome = await this.batchStep(kernel, step, options[step]);
      if ("aborted" in outcome) return this.end(outcome);
      this.record({ status: `${step}-finished`, exitCode: outcome.exitCode, options: null });
      if (step === "build") buildFailed = outcome.exitCode !== 0;
    }
    this.end(buildFailed ? { exitCode: EXIT_NOT_RUN } : await this.batchStep(kernel, "exec", options.exec));
  }

  /** The next result: everything up to the next control record, or what arrived within flushMs. Readers take turns. */
  read(flushMs: number): Promise<RunResult> {
    const result = this.reading.then(() => this.readOnce(flushMs));
    this.reading = result.catch(() => undefined);
    return result;
  }

  /** The current step waits for the client's input. */
  get awaitingInput(): boolean {
    return this.input !== null;
  }

  /** Answers the program's pending input request. */
  provideInput(text: string): void {
    if (!this.input) throw new SessionError("not-waiting-input", `Run ${this.id} is not waiting for input.`);
    this.input(text);
  }

  /** Stops the run: the current step is aborted and no further step starts. */
  abort(reason: StepAbortReason): void {
    this.abortReason ??= reason;
    this.stopper.abort(new StepAbort(reason));
    this.current?.abort(new StepAbort(reason));
  }

  /** Aborts once the run is stopped, also before it has started (while it waits for a run slot). */
  get stopped(): AbortSignal {
    return this.stopper.signal;
  }

  /** Ends a run that never started: every read rejects with `error` (the server's run queue was full). */
  refuse(error: unknown): void {
    this.refusal = { error };
    this.ended = true;
    this.delivered = true;
    this.wake?.();
  }

  private batchStep(kernel: Kernel, step: BatchStep, command: string | null | undefined): Promise<Outcome> {
    // Backend.AI reports a skipped step as finished with exit code 0.
    if (!command) return Promise.resolve(this.abortReason ? { aborted: this.abortReason } : { exitCode: 0 });
    return this.step(step, (io) => kernel.step(step, command, io));
  }

  private async step(name: StepName, body: (io: StepIO) => Promise<number>): Promise<Outcome> {
    if (this.abortReason) return { aborted: this.abortReason };
    const started = performance.now();
    const controller = new AbortController();
    this.current = controller;
    const timer = new StepTimer(this.settings.stepTimeoutMs, () => controller.abort(new StepAbort("timeout")));
    // Made when bytes first arrive: most kernels write strings.
    const decoders: Partial<Record<"stdout" | "stderr", TextDecoder>> = {};
    const io: StepIO = {
      write: (stream, data) => this.output(stream, typeof data === "string" ? data : (decoders[stream] ??= new TextDecoder()).decode(data, { stream: true })),
      emit: (item) => void (item[0] === "stdout" || item[0] === "stderr" ? this.output(item[0], item[1]) : this.buffer.emit(item)),
      readInput: (request) => this.waitForInput(request, controller.signal, timer),
      signal: controller.signal,
    };
    let exitCode: number;
    try {
      exitCode = await settleOrGiveUp(body(io), controller.signal);
    } catch (error) {
      if (!controller.signal.aborted) this.output("stderr", `kiln: the kernel failed: ${error instanceof Error ? error.message : String(error)}\n`);
      exitCode = EXIT_KERNEL_FAILED;
    } finally {
      timer.clear();
      this.current = null;
      for (const stream of ["stdout", "stderr"] as const) if (decoders[stream]) this.output(stream, decoders[stream].decode());
      this.settings.onStepEnd?.(name, (performance.now() - started) / 1000);
    }
    const reason = controller.signal.reason;
    return controller.signal.aborted && reason instanceof StepAbort ? { aborted: reason.reason } : { exitCode };
  }

  private waitForInput(request: InputRequest, signal: AbortSignal, timer: StepTimer): Promise<string> {
    if (signal.aborted) return Promise.reject(signal.reason);
    // Time spent waiting for a person to type does not count against the step's limit.
    timer.pause();
    this.record({ status: "waiting-input", exitCode: null, options: { is_password: request.isPassword } });
    return new Promise<string>((resolve, reject) => {
      const onAbort = () => {
        this.input = null;
        reject(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.input = (text) => {
        this.input = null;
        signal.removeEventListener("abort", onAbort);
        timer.resume();
        resolve(text);
      };
    });
  }

  /** Records output; false once the run's output limit has cut it off. */
  private output(stream: "stdout" | "stderr", text: string): boolean {
    if (this.outputCut) return false;
    if (text === "") return true;
    this.outputBytes += utf8Length(text);
    if (this.outputBytes > this.settings.outputBytes) {
      this.outputCut = true;
      text = `\n[output limit of ${this.settings.outputBytes} bytes per run reached; further output is dropped]\n`;
      stream = "stderr";
    }
    this.buffer.write(stream, text);
    this.settings.onOutput(text);
    return !this.outputCut;
  }

  private end(outcome: Outcome): void {
    let ended: RunOutcome;
    if ("exitCode" in outcome) {
      this.record({ status: "finished", exitCode: outcome.exitCode, options: null });
      ended = "finished";
    } else if (outcome.aborted === "timeout") {
      this.record({ status: "exec-timeout", exitCode: null, options: null });
      ended = "exec-timeout";
    } else {
      this.record({ status: "finished", exitCode: EXIT_INTERRUPTED, options: null });
      ended = "interrupted";
    }
    this.ended = true;
    this.settings.onEnd?.(ended, (performance.now() - this.startedAt) / 1000);
  }

  private record(control: Control): void {
    this.buffer.control(control);
    this.wake?.();
  }

  private async readOnce(flushMs: number): Promise<RunResult> {
    if (!this.delivered && !this.buffer.hasControl()) {
      await new Promise<void>((resolve) => {
        const timeout = setTimeout(done, flushMs);
        function done() {
          clearTimeout(timeout);
          resolve();
        }
        this.wake = done;
      });
      this.wake = null;
    }
    if (this.refusal) throw this.refusal.error;
    const { console, control } = this.buffer.take();
    if (control && (control.status === "finished" || control.status === "exec-timeout")) this.delivered = true;
    if (!control && this.delivered) {
      // A reader after the end (a retried continue): repeat the end rather than hang.
      return { runId: this.id, status: "finished", exitCode: null, options: null, files: [], console };
    }
    return {
      runId: this.id,
      status: control?.status ?? "continued",
      exitCode: control ? control.exitCode : null,
      options: control?.options ?? null,
      files: [],
      console,
    };
  }
}

/** The kernel's exit code; once the step is aborted, gives up waiting for a kernel that does not stop. */
function settleOrGiveUp(promise: Promise<number>, signal: AbortSignal): Promise<number> {
  return new Promise((resolve, reject) => {
    let grace: ReturnType<typeof setTimeout> | undefined;
    const onAbort = () => {
      grace = setTimeout(() => resolve(EXIT_INTERRUPTED), ABORT_GRACE_MS);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => {
      clearTimeout(grace);
      signal.removeEventListener("abort", onAbort);
    });
  });
}

/** A step's wall-clock limit that can be paused while the program waits for input. */
class StepTimer {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private startedAt = 0;

  constructor(
    private remainingMs: number,
    private readonly onExpire: () => void,
  ) {
    this.resume();
  }

  pause(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.remainingMs -= Date.now() - this.startedAt;
  }

  resume(): void {
    this.startedAt = Date.now();
    this.timer = setTimeout(this.onExpire, Math.max(0, Math.min(this.remainingMs, 2 ** 31 - 1)));
  }

  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** UTF-8 length of a string without encoding it (a lone surrogate counts as U+FFFD's 3 bytes). */
function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}
