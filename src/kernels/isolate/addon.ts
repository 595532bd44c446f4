// Loads isolated-vm, a native addon, without ever crashing the server: on Bun,
// Deno, a failed build or Node ≥ 20 started without --no-node-snapshot (where
// isolated-vm crashes the process), the JavaScript kernel is just unavailable.

import { createRequire } from "node:module";

export type IVM = typeof import("isolated-vm");

let loaded: { ivm: IVM } | { reason: string } | undefined;

function nodeMajor(): number | null {
  const versions = (globalThis as { process?: { versions?: Record<string, string | undefined> } }).process?.versions;
  if (!versions?.node || versions.bun || (globalThis as { Deno?: unknown }).Deno) return null;
  return Number(versions.node.split(".")[0]);
}

function hasNoNodeSnapshot(): boolean {
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? "").split(/\s+/)];
  return flags.includes("--no-node-snapshot");
}

function load(): { ivm: IVM } | { reason: string } {
  const major = nodeMajor();
  if (major === null) return { reason: "isolated-vm needs Node.js (this runtime is not Node)" };
  if (major >= 20 && !hasNoNodeSnapshot()) {
    return { reason: "isolated-vm needs Node to be started with --no-node-snapshot on Node 20 and later" };
  }
  try {
    const require = createRequire(import.meta.url);
    return { ivm: require("isolated-vm") as IVM };
  } catch (error) {
    return { reason: `isolated-vm could not be loaded: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}` };
  }
}

/** The addon, or null when it can't be used here. */
export function loadIsolatedVm(): IVM | null {
  loaded ??= load();
  return "ivm" in loaded ? loaded.ivm : null;
}

/** Why loadIsolatedVm() returned null; undefined when it works. */
export function isolatedVmUnavailableReason(): string | undefined {
  loaded ??= load();
  return "reason" in loaded ? loaded.reason : undefined;
}
