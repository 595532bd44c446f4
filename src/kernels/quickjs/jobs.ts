// Runs QuickJS's pending promise jobs in a way that lets them suspend on
// asyncified host functions (fs, input, module loading after an `await`).
// quickjs-emscripten's runtime.executePendingJobs() is synchronous and asserts
// that no job suspends; the asyncify build exports the same C function, which
// emscripten wraps into a promise-returning call with `{ async: true }` (what the
// debug-asyncify variant's own FFI does; quickjs-emscripten issue #239). The
// library keeps the pieces this needs protected, hence the narrow casts below.

import type { QuickJSAsyncContext, QuickJSAsyncRuntime, QuickJSHandle } from "quickjs-emscripten-core";

interface RuntimeInternals {
  module: { cwrap(name: string, ret: string, args: string[], opts: { async: true }): (...args: number[]) => Promise<number> };
  rt: { value: number };
}
interface ContextInternals {
  getMemory(rt: number): {
    newMutablePointerArray(n: number): { value: { ptr: number; typedArray: Int32Array }; dispose(): void };
    heapValueHandle(ptr: number): QuickJSHandle;
  };
}

const runners = new WeakMap<QuickJSAsyncRuntime, (rt: number, max: number, out: number) => Promise<number>>();

/** Runs every pending job (and the jobs they queue). Resolves with the error handle of a job that threw, or null. */
export async function drainJobs(runtime: QuickJSAsyncRuntime, context: QuickJSAsyncContext): Promise<QuickJSHandle | null> {
  const internals = runtime as unknown as RuntimeInternals;
  let run = runners.get(runtime);
  if (!run) {
    run = internals.module.cwrap("QTS_ExecutePendingJob", "number", ["number", "number", "number"], { async: true });
    runners.set(runtime, run);
  }
  const memory = (context as unknown as ContextInternals).getMemory(internals.rt.value);
  while (runtime.hasPendingJob()) {
    const out = memory.newMutablePointerArray(1);
    let valuePtr: number;
    try {
      valuePtr = await run(internals.rt.value, 1, out.value.ptr);
    } finally {
      out.dispose();
    }
    const value = memory.heapValueHandle(valuePtr);
    if (context.typeof(value) === "number") value.dispose();
    else return value;
  }
  return null;
}
