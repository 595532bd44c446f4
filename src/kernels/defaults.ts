// The kernels `kiln serve` offers: each is loaded if its runtime support is
// present, and otherwise reported with the reason it is missing.

import { isolateKernelFactory, isolateUnavailableReason } from "./isolate/index.ts";
import type { KernelFactory } from "./kernel.ts";
import { loadPodmanKernels } from "./podman/index.ts";
import { quickjsKernelFactory } from "./quickjs/index.ts";

export interface KernelSet {
  kernels: KernelFactory[];
  /** Kernel name → why it is unavailable here. */
  missing: Record<string, string>;
}

/** `jsKernel` picks the JavaScript kernel (--js-kernel): auto is isolate where isolated-vm loads, else quickjs. */
export async function defaultKernels(jsKernel: "auto" | "isolate" | "quickjs" = "auto"): Promise<KernelSet> {
  const kernels: KernelFactory[] = [];
  const missing: Record<string, string> = {};
  const isolate = jsKernel === "quickjs" ? null : isolateKernelFactory();
  if (isolate) kernels.push(isolate);
  else if (jsKernel === "isolate") missing.isolate = isolateUnavailableReason() ?? "isolated-vm did not load";
  else kernels.push(quickjsKernelFactory());
  const podman = await loadPodmanKernels();
  if (podman.factory) kernels.push(podman.factory);
  if (podman.reason) missing.podman = podman.reason;
  return { kernels, missing };
}
