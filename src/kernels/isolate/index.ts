// The in-process JavaScript/TypeScript kernel on isolated-vm.

import { isolatedVmUnavailableReason, loadIsolatedVm } from "./addon.ts";
import { createFactory, type IsolateKernelFactory, type IsolateKernelOptions } from "./factory.ts";
import { createRemoteFactory } from "./process-host.ts";

export type { IsolateKernelFactory, IsolateKernelOptions } from "./factory.ts";
export { DEFAULT_LIMITS as ISOLATE_DEFAULT_LIMITS } from "./factory.ts";

/**
 * The factory, or null when isolated-vm can't run here (see isolateUnavailableReason()).
 * Isolates run in a sandbox process unless `inProcess` is set: V8 aborts the whole
 * process on some heap exhaustion patterns, which must not take the server down.
 */
export function isolateKernelFactory(options: IsolateKernelOptions & { inProcess?: boolean } = {}): IsolateKernelFactory | null {
  const ivm = loadIsolatedVm();
  if (!ivm) return null;
  const { inProcess, ...rest } = options;
  return inProcess ? createFactory(ivm, rest) : createRemoteFactory(rest);
}

/** Why isolateKernelFactory() returns null, for the server's startup message; undefined when available. */
export function isolateUnavailableReason(): string | undefined {
  return isolatedVmUnavailableReason();
}
