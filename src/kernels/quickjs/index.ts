// The WebAssembly JavaScript/TypeScript kernel on quickjs-emscripten: QuickJS
// compiled to WebAssembly with asyncify, so it runs wherever WebAssembly does
// (Node, Bun, and later Deno and edge runtimes) with no native addon. Slower
// than the isolated-vm kernel, and QuickJS's language level, not V8's.

import { newQuickJSAsyncWASMModuleFromVariant, type QuickJSAsyncVariant } from "quickjs-emscripten-core";
import variant from "@jitl/quickjs-wasmfile-release-asyncify";
import type { KernelFactory, SessionLimits } from "../kernel.ts";
import { QuickJSKernel } from "./kernel.ts";

export const QUICKJS_DEFAULT_LIMITS: Partial<SessionLimits> = Object.freeze({ memoryMiB: 128, stepTimeoutMs: 10_000 });

export interface QuickJSKernelOptions {
  /** This kernel's defaults, applied where a session asks for nothing. */
  defaults?: Partial<SessionLimits>;
}

export function quickjsKernelFactory(options: QuickJSKernelOptions = {}): KernelFactory {
  // One WebAssembly instance per session (see kernel.ts). The variant's typings do not match under
  // this project's module settings; the loader unwraps its default export either way.
  const load = () => newQuickJSAsyncWASMModuleFromVariant(variant as unknown as QuickJSAsyncVariant);
  return {
    name: "quickjs",
    images: ["javascript", "typescript"],
    vfs: "memory",
    defaults: { ...QUICKJS_DEFAULT_LIMITS, ...options.defaults },
    async create(context) {
      return new QuickJSKernel(context, load);
    },
  };
}
