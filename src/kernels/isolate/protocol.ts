// Messages between the server and its sandbox process (see process-host.ts and
// child.ts). V8 ends the whole process when an isolate's heap cannot fit one
// large allocation (a growing Map, a huge array, a giant string), whatever
// isolated-vm's memoryLimit says; so isolates live in a child process, and the
// server survives by restarting it. Sent with Node's "advanced" serialization,
// so bytes travel as Uint8Array, and in batches (outbox.ts): each IPC message is
// an array of these.

import type { BatchStep, InputRequest, SessionLimits, StepAbortReason } from "../kernel.ts";

export interface KernelSpec {
  sessionId: string;
  image: string;
  environ: Record<string, string>;
  limits: SessionLimits;
}

export type KernelCall =
  | { method: "query"; code: string }
  | { method: "step"; step: BatchStep; command: string }
  | { method: "complete"; code: string; options: Record<string, unknown> }
  | { method: "restart" }
  | { method: "destroy" };

export interface WireError {
  name: string;
  message: string;
  code?: string;
  path?: string;
}

/** Server → sandbox process. */
export type ToChild =
  | { t: "create"; rid: number; kid: number; spec: KernelSpec }
  | { t: "call"; rid: number; kid: number; call: KernelCall }
  | { t: "abort"; rid: number; reason: StepAbortReason }
  /** The run dropped output past its limit: the child's io.write answers false from now on. */
  | { t: "output-cut"; rid: number }
  | { t: "answer"; qid: number; ok: true; value: unknown }
  | { t: "answer"; qid: number; ok: false; error: WireError };

export interface OutputItem {
  stream: "stdout" | "stderr";
  data: string | Uint8Array;
}

/** Sandbox process → server. */
export type ToParent =
  | { t: "ready" }
  /** The end of a call; `items` is the run's output not sent yet, written before the call settles. */
  | { t: "reply"; rid: number; ok: true; value: unknown; stats?: Record<string, number>; items?: OutputItem[] }
  | { t: "reply"; rid: number; ok: false; error: WireError; items?: OutputItem[] }
  /** Output of a run still going: one message per burst rather than per console item. */
  | { t: "write"; rid: number; items: OutputItem[] }
  | { t: "vfs"; qid: number; kid: number; method: VfsMethod; args: unknown[] }
  | { t: "input"; qid: number; rid: number; request: InputRequest };

/** Omit over each member of a union. */
export type Without<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export const VFS_METHODS = ["stat", "list", "readFile", "writeFiles", "appendFile", "mkdir", "rm", "rename"] as const;
export type VfsMethod = (typeof VFS_METHODS)[number];

export function toWire(error: unknown): WireError {
  if (error instanceof Error) {
    const e = error as Error & { code?: unknown; path?: unknown };
    return { name: e.name, message: e.message, code: typeof e.code === "string" ? e.code : undefined, path: typeof e.path === "string" ? e.path : undefined };
  }
  return { name: "Error", message: String(error) };
}
