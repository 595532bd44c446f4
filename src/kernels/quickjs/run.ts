// Drives one run (a query or a batch step) in a guest to its end: the first
// evaluation, then promise jobs and timers until nothing keeps the program
// alive, process.exit() or an uncaught error. The step's limits end it: the
// runtime's memory limit makes allocations fail, and the interrupt handler
// stops QuickJS once io.signal is aborted or the step's time is up. QuickJS
// runs on the server's own thread, so while a program computes no timer of the
// host fires: the handler watches the clock itself, and the run then waits
// briefly for the session layer's own time limit to abort the signal.

import { StepAbort, type StepIO } from "../kernel.ts";
import { callKiln, type EvalResult, type Guest } from "./host.ts";
import { drainJobs } from "./jobs.ts";

export const MEMORY_EXIT = 137;
const TIMEOUT_EXIT = 124;
const ABORT_EXIT = 130;
/** How long a run stopped by its own clock waits for the session layer's abort. */
const ABORT_GRACE_MS = 2000;

export interface RunResult {
  code: number;
  /** A limit ended the run: the guest must be replaced (its heap or state may be half-made). */
  broken: boolean;
}

/** The interrupt handler stopped the guest. */
class Stopped extends Error {}

class Ended extends Error {
  constructor(readonly result: RunResult) {
    super("run ended");
  }
}

export async function drive(guest: Guest, io: StepIO, timeoutMs: number, start: () => Promise<EvalResult>): Promise<RunResult> {
  if (io.signal.aborted) return { code: ABORT_EXIT, broken: false };
  const { context } = guest;
  const deadline = Date.now() + timeoutMs;
  guest.runtime.setInterruptHandler(() => io.signal.aborted || Date.now() > deadline);
  guest.io = io;
  try {
    settle(guest, await start());
    for (;;) {
      const failed = await drainJobs(guest.runtime, context);
      if (failed) settle(guest, { error: failed } as EvalResult);
      const status = call(guest, "__kiln.status()") as number | null;
      if (status !== null) return { code: end(guest, status), broken: false };
      const next = call(guest, "__kiln.next()") as number;
      if (next < 0) return { code: end(guest, null), broken: false };
      if (next > 0) await sleep(next, io.signal);
      settle(guest, await context.evalCodeAsync("__kiln.fire()", "node:internal/kiln/timers"));
    }
  } catch (error) {
    if (error instanceof Ended) return error.result;
    if (error instanceof Stopped || io.signal.aborted) return stopped(io);
    // A trap inside the engine (it ran out of memory where QuickJS could not report it).
    io.write("stderr", guest.outOfMemory || /memory|unreachable/i.test(String(error)) ? "memory limit exceeded\n" : `internal error: ${String(error)}\n`);
    return { code: MEMORY_EXIT, broken: true };
  } finally {
    guest.io = null;
  }
}

/** An evaluation's outcome: nothing to do on success; an error ends the run unless it was process.exit(). */
function settle(guest: Guest, result: EvalResult): void {
  const { context } = guest;
  if (!result.error) {
    result.value.dispose();
    return;
  }
  const error = result.error;
  try {
    const io = guest.io!;
    if (io.signal.aborted) throw new Stopped();
    if (context.unwrapResult(callKiln(guest, "isExit", error)).consume((v) => context.dump(v) === true)) return;
    const text = context.unwrapResult(callKiln(guest, "describe", error)).consume((v) => context.getString(v));
    if (/^InternalError: interrupted/.test(text)) throw new Stopped();
    if (/^InternalError: out of memory/.test(text)) {
      io.write("stderr", "memory limit exceeded\n");
      throw new Ended({ code: MEMORY_EXIT, broken: true });
    }
    io.write("stderr", `${text}\n`);
    throw new Ended({ code: end(guest, 1), broken: false });
  } finally {
    error.dispose();
  }
}

function call(guest: Guest, code: string): unknown {
  return guest.context.unwrapResult(guest.context.evalCode(code)).consume((v) => guest.context.dump(v));
}

/** Resets the guest for the next run and gives the exit code (`forced` wins over process.exitCode). */
function end(guest: Guest, forced: number | null): number {
  const code = call(guest, "__kiln.end()") as number;
  return forced ?? code;
}

/** A run the interrupt handler stopped: 130 when interrupted, else its time was up (124). */
async function stopped(io: StepIO): Promise<RunResult> {
  if (!io.signal.aborted) await sleep(ABORT_GRACE_MS, io.signal);
  const reason = io.signal.reason;
  if (reason instanceof StepAbort && reason.reason !== "timeout") return { code: ABORT_EXIT, broken: true };
  io.write("stderr", "time limit exceeded\n");
  return { code: TIMEOUT_EXIT, broken: true };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, Math.min(ms, 2 ** 31 - 1));
    signal.addEventListener("abort", done, { once: true });
  });
}
