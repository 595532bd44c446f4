// The kernels `kiln serve` offers: each is loaded if its runtime support is
// present, and otherwise reported with the reason it is missing.

import { isolateKernelFactory, isolateUnavailableReason } from "./isolate/index.ts";
import type { KernelFactory } from "./kernel.ts";
import { loadPodmanKernels } from "./podman/index.ts";

export interface KernelSet {
  kernels: KernelFactory[];
  /** Kernel name → why it is unavailable here. */
  missing: Record<string, string>;
}

export async function defaultKernels(): Promise<KernelSet> {
  const kernels: KernelFactory[] = [];
  const missing: Record<string, string> = {};
  const isolate = isolateKernelFactory();
  if (isolate) kernels.push(isolate);
  else missing.isolate = isolateUnavailableReason() ?? "isolated-vm did not load";
  const podman = await loadPodmanKernels();
  if (podman.factory) kernels.push(podman.factory);
  if (podman.reason) missing.podman = podman.reason;
  return { kernels, missing };
}
