// The factory: one per server. It bundles the runtime once, keeps a small pool
// of warm sandboxes (an isolate with the runtime loaded in a pristine context)
// so creating a session costs a pool take, and refills the pool in the
// background.

import type { Kernel, KernelContext, KernelFactory, SessionLimits } from "../kernel.ts";
import type { IVM } from "./addon.ts";
import { IsolateKernel } from "./kernel.ts";
import { runtimeSource } from "./runtime-source.ts";
import { Sandbox, type RuntimeCode } from "./sandbox.ts";
import { BUILTIN_NAMES } from "./runtime/builtins.ts";

export interface IsolateKernelOptions {
  /** Warm sandboxes kept ready for the default heap limit; 0 turns the pool off. Default 2. */
  poolSize?: number;
  /** How much an idle sandbox process may have grown before trim() replaces it. Default 32. */
  trimAboveMiB?: number;
  /** This kernel's defaults, applied where a session asks for nothing. */
  defaults?: Partial<SessionLimits>;
}

export const DEFAULT_LIMITS: Partial<SessionLimits> = Object.freeze({ memoryMiB: 128, stepTimeoutMs: 10_000 });

export type IsolateKernelFactory = KernelFactory & {
  readonly defaults: Partial<SessionLimits>;
  /** Warm sandboxes waiting in the pool now. */
  readonly pooled: number;
};

export function createFactory(ivm: IVM, options: IsolateKernelOptions = {}): IsolateKernelFactory {
  const poolSize = Math.max(0, options.poolSize ?? 2);
  const poolMiB = options.defaults?.memoryMiB ?? DEFAULT_LIMITS.memoryMiB!;
  const builtins = new Set<string>(BUILTIN_NAMES);
  const pool: Sandbox[] = [];
  let code: Promise<RuntimeCode> | null = null;
  let filling = false;
  let closed = false;

  const runtime = () => (code ??= runtimeSource().then((source) => ({ source })));
  const make = async (memoryMiB: number) => Sandbox.create(ivm, await runtime(), memoryMiB);

  async function refill(): Promise<void> {
    if (filling || closed) return;
    filling = true;
    try {
      while (!closed && pool.length < poolSize) {
        const sandbox = await make(poolMiB);
        if (closed) sandbox.dispose();
        else pool.push(sandbox);
      }
    } catch {
      // A failed warm-up leaves the pool short; sessions then create their own.
    } finally {
      filling = false;
    }
  }

  async function sandbox(memoryMiB: number): Promise<Sandbox> {
    const warm = memoryMiB === poolMiB ? pool.shift() : undefined;
    if (poolSize > 0) setImmediate(() => void refill());
    return warm ?? make(memoryMiB);
  }

  const factory: IsolateKernelFactory = {
    name: "isolate",
    images: ["javascript", "typescript"],
    vfs: "memory",
    defaults: { ...DEFAULT_LIMITS, ...options.defaults },
    get pooled() {
      return pool.length;
    },
    async create(context: KernelContext): Promise<Kernel> {
      const kernel = new IsolateKernel(context, {
        ivm,
        sandbox,
        builtins,
        nodeVersion: process.version,
        nodeVersions: { node: process.versions.node, v8: process.versions.v8 },
      });
      await kernel.start();
      return kernel;
    },
    async close(): Promise<void> {
      closed = true;
      for (const s of pool.splice(0)) s.dispose();
    },
  };
  if (poolSize > 0) setImmediate(() => void refill());
  return factory;
}
