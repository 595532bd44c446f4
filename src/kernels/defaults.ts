// The kernels `kiln serve` offers: each is loaded if its runtime support is
// present, and otherwise reported with the reason it is missing.

import type { KernelFactory } from "./kernel.ts";

export interface KernelSet {
  kernels: KernelFactory[];
  /** Kernel name → why it is unavailable here. */
  missing: Record<string, string>;
}

export async function defaultKernels(): Promise<KernelSet> {
  return { kernels: [], missing: {} };
}
