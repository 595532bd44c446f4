// Entry of the in-isolate runtime, bundled by ../runtime-source.ts and run once
// per context before any program code. It hardens the context, installs Node's
// globals and leaves two things behind: a control object on `__kilnControl`
// (the host takes a Reference to it and deletes the global at once) and the
// internals ES module wrappers need, under Symbol.for("kiln.internal").

import { flush, publish, resetOutput, setBridge, type Bridge } from "./host.ts";
import { atob, btoa, TextDecoder, TextEncoder } from "./encoding.ts";
import { Buffer } from "./buffer.ts";
import { clearAllTimers, clearTimer, ExitSignal, nextDue, runOne, setImmediate, setInterval, setTimeout, state } from "./loop.ts";
import { console, reportError, resetConsole } from "./util.ts";
import { process, type ProcessConfig } from "./process.ts";
import { readLine, stdin } from "./stdin.ts";
import { builtin, builtinExportNames, dynamicImport, hasPendingImports, replModule, requireFrom, runMain, settleImport, takeImportRequests } from "./modules.ts";
import { FAILED, GOES_ON, NOT_ENDED, SCRIPT_END_SYMBOL } from "./script-end.ts";

const g = globalThis as Record<string, unknown>;
const globalEval = eval;

// Memory that isolated-vm's heap limit does not count: WebAssembly memories and
// resizable/growable buffers grow outside the limited allocator. Programs lose
// them rather than the server losing its memory.
delete g.WebAssembly;
delete (ArrayBuffer.prototype as unknown as Record<string, unknown>).resize;
delete (SharedArrayBuffer.prototype as unknown as Record<string, unknown>).grow;

function define(name: string, value: unknown): void {
  Object.defineProperty(g, name, { value, writable: true, configurable: true, enumerable: false });
}

// Even without resize() and grow(), a resizable or growable buffer reserves address space
// for its maxByteLength at once, outside the heap limit: a loop of them aborts the whole
// sandbox process. The constructors ignore the options argument, as engines without the
// feature do; the prototypes (and instanceof) stay the built-in ones.
for (const name of ["ArrayBuffer", "SharedArrayBuffer"] as const) {
  const Builtin = g[name] as new (length?: number) => object;
  const FixedLength: typeof Builtin = new Proxy(Builtin, {
    construct: (target, args, newTarget) => Reflect.construct(target, [args[0]], newTarget === FixedLength ? target : newTarget),
  });
  Object.defineProperty(Builtin.prototype, "constructor", { value: FixedLength, writable: true, configurable: true, enumerable: false });
  define(name, FixedLength);
}

const queueMicrotask = (fn: () => void) => {
  if (typeof fn !== "function") throw new TypeError('The "callback" argument must be of type function.');
  Promise.resolve().then(() => {
    try {
      fn();
    } catch (error) {
      onUncaught(error);
    }
  });
};

const started = Date.now();
const performance = {
  timeOrigin: started,
  now: () => Date.now() - started,
  mark: () => {},
  measure: () => {},
  toJSON: () => ({ timeOrigin: started }),
};

define("global", globalThis);
define("console", console);
define("process", process);
define("Buffer", Buffer);
define("setTimeout", setTimeout);
define("setInterval", setInterval);
define("setImmediate", setImmediate);
define("clearTimeout", clearTimer);
define("clearInterval", clearTimer);
define("clearImmediate", clearTimer);
define("queueMicrotask", queueMicrotask);
define("TextEncoder", TextEncoder);
define("TextDecoder", TextDecoder);
define("atob", atob);
define("btoa", btoa);
define("performance", performance);
define("prompt", (message?: unknown) => readLine(message === undefined ? "" : `${String(message)} `));

/** An uncaught error: 'uncaughtException' listeners get it, else it ends the run with 1. */
function onUncaught(error: unknown): void {
  if (error instanceof ExitSignal || state.exiting !== null) return;
  if (process.listenerCount("uncaughtException") > 0) {
    try {
      process.emit("uncaughtException", error, "uncaughtException");
      return;
    } catch (inner) {
      error = inner;
    }
  }
  reportError(error);
  state.exiting = 1;
}

interface RunState {
  /** ms until the next timer, or -1 when nothing keeps the loop alive. */
  next: number;
  /** The exit code once the program has exited or failed. */
  exit: number | null;
  /** The program waits for stream input and nothing else. */
  stdin: boolean;
  /** ES modules import() is waiting for: the host links and evaluates them. */
  imports: { id: number; path: string }[];
  /** The run's exit code once it has ended (the loop was empty). */
  done?: number;
}

function runState(next: number): RunState {
  flush();
  const live = state.exiting === null;
  return {
    next: live ? (hasPendingImports() && next < 0 ? 0 : next) : -1,
    exit: state.exiting,
    stdin: live && stdin.wanted(),
    imports: live ? takeImportRequests() : [],
  };
}

function guarded(fn: () => void): void {
  try {
    fn();
  } catch (error) {
    onUncaught(error);
  }
}

/** A query script reached its last line (see script-end.ts). */
let scriptEnded = false;
/** What afterScript caught ending the run, for rethrow. */
let afterScriptError: { error: unknown } | null = null;

/** Ends a run: 'exit' listeners, no timers left behind; returns the exit code and readies the next run. */
function finishRun(): number {
  if (state.exiting === null) {
    state.exiting = state.exitCode;
    guarded(() => process.emit("exit", state.exitCode));
  }
  clearAllTimers();
  flush();
  const code = state.exiting ?? state.exitCode;
  resetRun();
  return code;
}

function resetRun(): void {
  scriptEnded = false;
  resetOutput();
  resetConsole();
  state.exiting = null;
  state.exitCode = 0;
}

export interface InitConfig extends ProcessConfig {
  repl: boolean;
}

const control = {
  init(
    write: Bridge["write"],
    format: Bridge["format"],
    call: Bridge["call"],
    take: Bridge["take"],
    sab: SharedArrayBuffer,
    config: InitConfig,
  ): void {
    setBridge({ write, format, call, take, flag: new Int32Array(sab) });
    process.configure(config);
    if (config.repl) {
      const mod = replModule();
      define("require", mod.require);
      define("module", mod);
      define("exports", mod.exports);
      Object.defineProperty(g, Symbol.for(SCRIPT_END_SYMBOL), {
        configurable: true,
        value: () => {
          scriptEnded = true;
          return true;
        },
      });
    }
  },
  /** A CommonJS main file. */
  runMain(path: string): RunState {
    guarded(() => runMain(path));
    return runState(0);
  },
  /** The promise of a REPL input with top-level await. */
  track(promise: unknown): RunState {
    if (promise && typeof (promise as Promise<unknown>).then === "function") {
      Promise.prototype.then.call(promise, undefined, onUncaught);
    }
    return runState(0);
  },
  /**
   * Runs the next due callback. When none ran and nothing keeps the loop alive,
   * the run ends right here: no callback means no promise jobs can be pending.
   */
  tick(now: number): RunState {
    const { ran, next } = runOne(now, onUncaught);
    if (!ran && next < 0 && state.exiting === null && !stdin.wanted() && !hasPendingImports()) {
      return { ...runState(-1), done: finishRun() };
    }
    return runState(next);
  },
  /**
   * Queued behind a query script, so after its promise jobs, as a call nobody waits for: leaves
   * the outcome in the shared buffer under the host's sequence number (see script-end.ts).
   * Nothing of the program runs here, since the script's call may yet fail (a rejection nobody
   * handled): the run ends here only when ending it runs nothing (no timers, input or imports
   * pending, no 'exit' listeners); otherwise the host ticks as after any script.
   */
  afterScript(seq: number): void {
    let outcome = scriptEnded ? GOES_ON : NOT_ENDED;
    let idle = false;
    try {
      idle = scriptEnded && nextDue() < 0 && state.exiting === null && !stdin.wanted() && !hasPendingImports() && process.listenerCount("exit") === 0;
    } catch {
      // A program that broke what this reads: the host's tick decides, as it does after any script.
    }
    scriptEnded = false;
    try {
      if (idle) {
        // What tick does at a run's end, in its order: a failing write (a host formatting error)
        // fails the run as it does there, through rethrow.
        flush();
        outcome = finishRun() & 0xff;
      }
    } catch (error) {
      afterScriptError = { error };
      outcome = FAILED;
    } finally {
      publish(seq, outcome);
    }
  },
  /** Throws what afterScript caught, so that the host's call fails with it. */
  rethrow(): never {
    const caught = afterScriptError;
    afterScriptError = null;
    throw caught ? caught.error : new Error("kiln runtime: nothing to rethrow");
  },
  stdin(text: string | null): RunState {
    guarded(() => stdin.deliver(text));
    return runState(0);
  },
  end: finishRun,
  /** Called when the host caught an error the isolate could not (e.g. an unhandled rejection). */
  fail(): void {
    state.exiting = 1;
    clearAllTimers();
    flush();
    resetRun();
  },
  /** The host linked an import()ed module (namespace) or failed to (error). */
  importDone(id: number, namespace: unknown): RunState {
    settleImport(id, namespace);
    return runState(0);
  },
  importFailed(id: number, error: string): RunState {
    settleImport(id, undefined, error);
    return runState(0);
  },
  /** Where the run stands, e.g. after process.exit() unwound a script. */
  status(): RunState {
    return runState(-1);
  },
  /** Names completing the trailing `a.b.c` of the input, from the live globals. */
  complete(code: string): string[] {
    const m = /((?:[A-Za-z_$][\w$]*\.)*)([A-Za-z_$][\w$]*)?$/.exec(String(code));
    if (!m) return [];
    let target: unknown = globalThis;
    const path = (m[1] ?? "").split(".").filter(Boolean);
    for (const [i, name] of path.entries()) {
      try {
        // The first name may be a script-level let/const: only global-scope eval sees those.
        target = i === 0 ? globalEval(name) : (target as Record<string, unknown>)[name];
      } catch {
        return [];
      }
      if (target === null || target === undefined) return [];
    }
    const prefix = m[2] ?? "";
    const names = new Set<string>();
    for (let o: unknown = Object(target); o !== null && names.size < 1000; o = Object.getPrototypeOf(o)) {
      for (const name of Object.getOwnPropertyNames(o)) if (name.startsWith(prefix) && /^[A-Za-z_$][\w$]*$/.test(name)) names.add(name);
    }
    return [...names].filter((n) => !n.startsWith("__")).sort().slice(0, 100);
  },
  flush,
  builtinExportNames,
};

Object.defineProperty(g, Symbol.for("kiln.internal"), {
  value: Object.freeze({ builtin, requireFrom, dynamicImport }),
  enumerable: false,
  writable: false,
  configurable: false,
});
define("__kilnControl", control);
