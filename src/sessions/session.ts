// A live session: its files, its kernel and its runs. Runs execute one at a
// time in arrival order (Backend.AI's FIFO per session); restart and destroy
// wait their turn behind the run they abort.

import type { Kernel, SessionLimits } from "../kernels/kernel.ts";
import type { Vfs } from "../vfs/vfs.ts";
import { SessionError } from "./errors.ts";
import type { RunObserver } from "./observer.ts";
import { Run, type Job, type RunResult } from "./run.ts";

export interface SessionInit {
  id: string;
  name: string;
  /** The access key that created it; null when authentication is off. */
  owner: string | null;
  image: string;
  tag: string | null;
  environ: Record<string, string>;
  limits: SessionLimits;
  kernelName: string;
}

export interface SessionSettings {
  flushIntervalMs: number;
  consoleCapChars: number;
  /** Runs queued or finished-but-unread that one session may hold. */
  maxRuns: number;
  /** Told of each step's and run's end (metrics). */
  observer?: RunObserver;
  /** Caps on runs executing at once (auth/run-slots.ts): a run holds a slot from its start to its end. */
  runGate?: RunGate;
}

/** Lets a run start once a slot is free; the returned function gives the slot back. */
export interface RunGate {
  acquire(client: string, signal?: AbortSignal): Promise<() => void>;
}

export type SessionStatus = "RUNNING" | "RESTARTING" | "TERMINATING" | "TERMINATED";

/** Characters of console output kept for GET /session/:id/logs. */
const LOG_CHARS = 64 * 1024;

export class Session {
  readonly createdAt = Date.now();
  lastUsed = Date.now();
  status: SessionStatus = "RUNNING";
  numQueriesExecuted = 0;
  private readonly runs = new Map<string, Run>();
  /** Work waiting its turn: runs in arrival order; a restart goes first. */
  private readonly tasks: { task: () => Promise<void>; resolve: () => void; reject: (error: unknown) => void }[] = [];
  private pumping = false;
  private active: Run | null = null;
  private waitingRuns = 0;
  private log: string[] = [];
  private logChars = 0;

  constructor(
    readonly init: SessionInit,
    readonly vfs: Vfs,
    private readonly kernel: Kernel,
    private readonly settings: SessionSettings,
  ) {}

  get id(): string {
    return this.init.id;
  }

  get name(): string {
    return this.init.name;
  }

  /**
   * A run is executing or waiting to: the session is not idle. A run parked at an
   * input request counts as idle (its step timer is paused; only idle collection
   * frees a session whose client went away).
   */
  get busy(): boolean {
    if (this.active) return !this.active.awaitingInput;
    return this.tasks.length > 0;
  }

  /** Runs started but waiting for the run before them to end (the queue depth of metrics). */
  get queuedRuns(): number {
    return this.waitingRuns;
  }

  /** Starts a query or batch run (queued behind the current one) and returns its first result. */
  start(runId: string, job: Job): Promise<RunResult> {
    // The request may have been read while the session was being destroyed: a run
    // queued now would reach the kernel after its destroy().
    this.assertLive();
    const existing = this.runs.get(runId);
    if (existing && !existing.delivered) {
      throw new SessionError("run-active", `Run ${runId} is not finished; use mode "continue" to read it.`);
    }
    this.forgetDelivered();
    if (this.runs.size >= this.settings.maxRuns) {
      throw new SessionError("too-many-runs", `Session ${this.name} already holds ${this.runs.size} unfinished or unread runs.`);
    }
    const { observer } = this.settings;
    const { image } = this.init;
    const run = new Run(runId, job, {
      stepTimeoutMs: this.init.limits.stepTimeoutMs,
      outputBytes: this.init.limits.outputBytes,
      capChars: this.settings.consoleCapChars,
      onOutput: (text) => this.appendLog(text),
      ...(observer && {
        onStepEnd: (step, seconds) => observer.stepEnded(image, step, seconds),
        onEnd: (outcome, seconds) => observer.runEnded(image, outcome, seconds),
      }),
    });
    this.runs.set(runId, run);
    this.waitingRuns++;
    // run.execute() records its own failures; the catch only keeps a future bug from crashing the process.
    void this.enqueue(async () => {
      this.waitingRuns--;
      this.active = run;
      let release: (() => void) | undefined;
      try {
        // A slot is taken only when the run's turn in its session has come, so it is held while the run executes, not while it queues here.
        release = await this.settings.runGate?.acquire(this.init.owner ?? this.init.id, run.stopped);
      } catch (error) {
        // Interrupted while waiting: execute() below ends it at once as interrupted, with no slot.
        if (!run.stopped.aborted) {
          this.active = null;
          run.refuse(error);
          return;
        }
      }
      this.numQueriesExecuted++;
      try {
        await run.execute(this.kernel);
      } finally {
        this.active = null;
        release?.();
      }
    }).catch(() => undefined);
    return this.read(run);
  }

  /** The next result of a run already started (mode continue). */
  continue(runId: string): Promise<RunResult> {
    return this.read(this.run(runId));
  }

  /** Feeds a run waiting for input, then returns its next result. */
  input(runId: string, text: string): Promise<RunResult> {
    const run = this.run(runId);
    run.provideInput(text);
    return this.read(run);
  }

  complete(code: string, options: Record<string, unknown>): Promise<string[]> {
    this.assertLive();
    return this.kernel.complete(code, options);
  }

  interrupt(): void {
    this.active?.abort("interrupt");
  }

  /** Fresh kernel state, files kept. The current run ends (exit code 130); queued runs then run on the fresh state. */
  async restart(): Promise<void> {
    this.status = "RESTARTING";
    this.active?.abort("restart");
    try {
      // Ahead of queued runs: they run on the fresh state, and restart does not wait for them.
      await this.enqueue(() => this.kernel.restart(), { first: true });
    } catch (error) {
      throw new SessionError("restart-failed", `Could not restart the kernel: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      if (this.status === "RESTARTING") this.status = "RUNNING";
    }
  }

  /** Ends every run, then frees the kernel and the files. Safe to call twice. */
  async destroy(): Promise<Record<string, number>> {
    if (this.status === "TERMINATING" || this.status === "TERMINATED") return this.stats();
    this.status = "TERMINATING";
    for (const run of this.runs.values()) run.abort("destroy");
    const stats = this.stats();
    await this.enqueue(async () => {
      // try/catch rather than .catch(): a synchronous throw must not skip freeing the files.
      try {
        await this.kernel.destroy();
      } catch {}
      try {
        await this.vfs.destroy();
      } catch {}
    });
    this.status = "TERMINATED";
    return stats;
  }

  logs(): string {
    return this.log.join("").slice(-LOG_CHARS);
  }

  stats(): Record<string, number> {
    let kernel: Record<string, number> = {};
    try {
      kernel = this.kernel.stats();
    } catch {
      // A kernel that cannot report (its sandbox is gone) must still be destroyable.
    }
    return { ...kernel, numQueriesExecuted: this.numQueriesExecuted, ageMs: Date.now() - this.createdAt };
  }

  private assertLive(): void {
    if (this.status === "TERMINATING" || this.status === "TERMINATED") {
      throw new SessionError("no-such-session", `Session (id=${this.id}) does not exist.`);
    }
  }

  private run(runId: string): Run {
    const run = this.runs.get(runId);
    if (!run) throw new SessionError("no-such-run", `Run ${runId} does not exist in session ${this.name}.`);
    return run;
  }

  private async read(run: Run): Promise<RunResult> {
    const result = await run.read(this.settings.flushIntervalMs);
    this.lastUsed = Date.now();
    if (run.delivered && this.runs.get(run.id) === run) this.runs.delete(run.id);
    return result;
  }

  /** Drops runs that ended and were read, and beyond maxRuns, the oldest that ended unread. */
  private forgetDelivered(): void {
    for (const [id, run] of this.runs) if (run.delivered) this.runs.delete(id);
    for (const [id, run] of this.runs) {
      if (this.runs.size < this.settings.maxRuns) break;
      if (run.ended) this.runs.delete(id);
    }
  }

  private enqueue(task: () => Promise<void>, options: { first?: boolean } = {}): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const entry = { task, resolve, reject };
      if (options.first) this.tasks.unshift(entry);
      else this.tasks.push(entry);
      void this.pump();
    });
  }

  /** Runs queued tasks one at a time until none is left. */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      // A microtask first, as before: the caller finishes (e.g. start() attaches its reader) before the task begins.
      await undefined;
      for (let next = this.tasks.shift(); next; next = this.tasks.shift()) {
        try {
          await next.task();
          next.resolve();
        } catch (error) {
          next.reject(error);
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  /** Appends in O(1); compacts to the last LOG_CHARS only when twice that has piled up. */
  private appendLog(text: string): void {
    this.log.push(text);
    this.logChars += text.length;
    if (this.logChars > 2 * LOG_CHARS) {
      const kept = this.logs();
      this.log = [kept];
      this.logChars = kept.length;
    }
  }
}
