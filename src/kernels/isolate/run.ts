// Drives one run (a query or a batch step) to its end: starts it, then plays
// the event loop — sleeping until the next timer, feeding stream input when the
// program waits for nothing else — until the program exits or fails. Every
// call into the isolate carries isolated-vm's own timeout as a backstop for
// synchronous loops; the step's time limit proper is io.signal, whose abort
// disposes the isolate (the kernel then builds a fresh one).

import type { StepIO } from "../kernel.ts";
import type { HostBridge } from "./bridge.ts";
import { ModuleError } from "./resolve.ts";
import type { ProgramContext, RunState, Sandbox } from "./sandbox.ts";
import type { Reference } from "isolated-vm";

export const MEMORY_EXIT = 137;
const TIMEOUT_EXIT = 124;
const ABORT_EXIT = 130;
/** The backstop fires this long after the step's own limit. */
const BACKSTOP_GRACE_MS = 2000;

export interface RunResult {
  code: number;
  /** The isolate is gone (timeout, interrupt, memory): the kernel must replace it. */
  broken: boolean;
}

export interface RunContext {
  sandbox: Sandbox;
  context: ProgramContext;
  bridge: HostBridge;
  io: StepIO;
  timeoutMs: number;
  /** Links and evaluates an import()ed ES module; resolves with its namespace. */
  importModule(path: string, timeout: number): Promise<Reference<unknown>>;
}

/** `start` makes the first call into the isolate; `timeout()` is the backstop for it. */
export async function drive(run: RunContext, start: (timeout: () => number) => Promise<RunState>): Promise<RunResult> {
  const { sandbox, context, bridge, io } = run;
  if (io.signal.aborted) return { code: ABORT_EXIT, broken: false };
  const deadline = Date.now() + run.timeoutMs + BACKSTOP_GRACE_MS;
  const timeout = () => Math.max(1, deadline - Date.now());
  const onAbort = () => sandbox.dispose();
  io.signal.addEventListener("abort", onAbort, { once: true });
  bridge.setIO(io);
  try {
    let state = await start(timeout);
    while (state.done === undefined && state.exit === null) {
      if (state.imports.length > 0) {
        state = await settleImports(run, state.imports, timeout);
      } else if (state.next < 0 && state.stdin) {
        const text = await io.readInput({ isPassword: false });
        state = await context.state("stdin", [text], timeout());
      } else {
        // With nothing due, tick() ends the run inside the isolate and says so.
        if (state.next > 0) await sleep(state.next, io.signal);
        state = await context.state("tick", [Date.now()], timeout());
      }
    }
    return { code: state.done ?? (await context.code("end", [], timeout())), broken: false };
  } catch (error) {
    return await failure(run, error);
  } finally {
    io.signal.removeEventListener("abort", onAbort);
    bridge.setIO(null);
  }
}

/** Links each requested module; the runtime gets its namespace or the error's text. */
async function settleImports(run: RunContext, imports: RunState["imports"], timeout: () => number): Promise<RunState> {
  let state: RunState | null = null;
  for (const { id, path } of imports) {
    let namespace: Reference<unknown>;
    try {
      namespace = await run.importModule(path, timeout());
    } catch (error) {
      if (run.sandbox.disposed || run.io.signal.aborted) throw error;
      state = await run.context.state("importFailed", [id, describeError(error)], timeout());
      continue;
    }
    state = await run.context.stateWith("importDone", namespace, timeout(), id);
  }
  return state ?? run.context.state("tick", [Date.now()], timeout());
}

async function failure(run: RunContext, error: unknown): Promise<RunResult> {
  const { sandbox, context, io } = run;
  if (io.signal.aborted) {
    sandbox.dispose();
    return { code: ABORT_EXIT, broken: true };
  }
  const message = error instanceof Error ? error.message : String(error);
  if (sandbox.disposed || /memory limit/i.test(message)) {
    sandbox.dispose();
    io.write("stderr", "memory limit exceeded\n");
    return { code: MEMORY_EXIT, broken: true };
  }
  if (/Script execution timed out/.test(message)) {
    sandbox.dispose();
    io.write("stderr", "time limit exceeded\n");
    return { code: TIMEOUT_EXIT, broken: true };
  }
  try {
    // process.exit() unwinds with a throw that may reach the host: not an error.
    const state = await context.state("status", [], 5000);
    if (state.exit !== null) return { code: await context.code("end", [], 5000), broken: false };
    io.write("stderr", describeError(error) + "\n");
    await context.call("fail", [], 5000);
    return { code: 1, broken: false };
  } catch (inner) {
    if (io.signal.aborted) return { code: ABORT_EXIT, broken: true };
    if (sandbox.disposed) {
      io.write("stderr", "memory limit exceeded\n");
      return { code: MEMORY_EXIT, broken: true };
    }
    io.write("stderr", describeError(inner) + "\n");
    sandbox.dispose();
    return { code: 1, broken: true };
  }
}

/** An error that reached the host: its stack as the program would see it, without host frames. */
export function describeError(error: unknown): string {
  if (error instanceof ModuleError) return `Error [${error.code}]: ${error.message}`;
  if (!(error instanceof Error)) return `Uncaught ${String(error)}`;
  if (/An object was thrown from supplied code within isolated-vm/.test(error.message)) {
    return "Uncaught exception: a value that is not an Error was thrown";
  }
  const stack = typeof error.stack === "string" && error.stack !== "" ? error.stack : `${error.name}: ${error.message}`;
  const lines = stack.split("\n");
  const boundary = lines.findIndex((l) => l.includes("<isolated-vm boundary>"));
  return (boundary >= 0 ? lines.slice(0, boundary) : lines).join("\n");
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
