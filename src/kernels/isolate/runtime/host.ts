// In-isolate side of the bridge to the host. The host hands in plain functions
// (isolated-vm Callbacks: arguments and results are copied) and a one-word
// SharedArrayBuffer; they live in this module's closure and are never put on
// anything the program can reach.
//
// Sync-over-async: `op()` asks the host to start an operation, then blocks the
// isolate's thread with Atomics.wait until the host flips the flag, then takes
// the reply. That lets readFileSync, require and prompt() run over the async VFS.

import { OUTCOME_WORD, SEQ_WORD } from "./script-end.ts";
import type { Tree } from "./serialize.ts";

/** One piece of program output, formatted on the host (trees) or passed as is. */
export type OutItem =
  | { s: 1 | 2; t: string }
  | { s: 1 | 2; b: Uint8Array }
  | { s: 1 | 2; f: Tree[]; i: number; o?: Record<string, unknown> };

export type Reply = { ok: true; value: unknown } | { ok: false; error: HostError } | { pending: true };

export interface HostError {
  code: string;
  message: string;
  /** "SyntaxError" for source that does not parse; plain Error otherwise. */
  name?: string;
  /** Node's file:line / caret layout for syntax errors. */
  stack?: string;
}

export interface Bridge {
  /** Delivers output items (sync, so a flood of output is paced by the host); false once the run drops output. */
  write(items: OutItem[]): boolean;
  /** Formats trees with node:util on the host: util.format when `fmt`, else util.inspect of the first. */
  format(trees: Tree[], fmt: boolean, options: Record<string, unknown>): string;
  /** Starts an operation; replies at once or with { pending: true }. */
  call(op: string, args: unknown[]): Reply;
  /** The reply of the pending operation, after the flag was raised. */
  take(): Reply;
  flag: Int32Array;
}

let bridge: Bridge | null = null;
// Taken before any program runs: a program may replace Atomics.
const wait = Atomics.wait;
const store = Atomics.store;
const notify = Atomics.notify;

export function setBridge(next: Bridge): void {
  bridge = next;
}

function need(): Bridge {
  if (!bridge) throw new Error("kiln runtime: not initialised");
  return bridge;
}

/** afterScript's outcome for the host's sequence number, in the words of the shared buffer script-end.ts names. */
export function publish(seq: number, outcome: number): void {
  const b = need();
  store(b.flag, OUTCOME_WORD, outcome);
  store(b.flag, SEQ_WORD, seq);
  notify(b.flag, SEQ_WORD);
}

/** Runs a host operation synchronously; a host error becomes a thrown Error with its code. */
export function op<T>(name: string, ...args: unknown[]): T {
  const b = need();
  // The prompt a program printed must reach the client before its waiting-input.
  if (name === "input") flush();
  store(b.flag, 0, 0);
  let reply = b.call(name, args);
  if ("pending" in reply) {
    wait(b.flag, 0, 0);
    reply = b.take();
  }
  if ("pending" in reply) throw new Error(`kiln runtime: ${name} did not complete`);
  if (!reply.ok) throw hostError(reply.error);
  return reply.value as T;
}

/** Error subclasses thrown for host failures carry the Node-style code. */
export function hostError(error: HostError): Error {
  const e = (error.name === "SyntaxError" ? new SyntaxError(error.message) : new Error(error.message)) as Error & { code?: string };
  if (error.name !== "SyntaxError") e.code = error.code;
  if (typeof error.stack === "string") e.stack = error.stack;
  return e;
}

export function format(trees: Tree[], fmt: boolean, options: Record<string, unknown> = {}): string {
  return need().format(trees, fmt, options);
}

// Output is queued and handed over in batches: at most every FLUSH_MS, when the
// queue grows past FLUSH_CHARS, before blocking for input, and at the end of
// every call from the host. The first output after FLUSH_MS of quiet goes at
// once: a program that prints and then spins until its time limit (when the
// isolate is disposed with whatever is still queued) still shows what it printed.
const FLUSH_MS = 20;
const FLUSH_CHARS = 64 * 1024;
let queue: OutItem[] = [];
let queued = 0;
let lastFlush = Date.now();
/** The host said the run's output limit is reached: stop shipping output it would drop. */
let overLimit = false;

/** Starts a new run's output accounting. */
export function resetOutput(): void {
  overLimit = false;
}

export function emit(item: OutItem, size: number): void {
  if (overLimit) return;
  queue.push(item);
  queued += size;
  if (queued >= FLUSH_CHARS || Date.now() - lastFlush >= FLUSH_MS) flush();
}

export function flush(): void {
  if (queue.length === 0 || !bridge) return;
  lastFlush = Date.now();
  const items = queue;
  queue = [];
  queued = 0;
  if (bridge.write(items) === false) overLimit = true;
}
