// One V8 isolate and the contexts a session runs in. Each context gets the
// runtime script (compiled once per process, then from V8's code cache) and is
// initialised with the session's bridge; the host keeps References to the
// runtime's control functions, the program never sees them.

import type { Context, Isolate, Reference } from "isolated-vm";
import type { IVM } from "./addon.ts";
import type { HostBridge } from "./bridge.ts";
import { RUNTIME_FILENAME } from "./runtime-source.ts";
import type { ProcessConfig } from "./runtime/process.ts";
import type { EsmLinker } from "./esm.ts";

/** What the runtime reports after each call: see RunState in runtime/index.ts. */
export interface RunState {
  next: number;
  exit: number | null;
  stdin: boolean;
  imports: { id: number; path: string }[];
  /** Set when the run has ended inside the isolate: its exit code. */
  done?: number;
}

const CONTROL = ["init", "runMain", "track", "tick", "afterScript", "rethrow", "stdin", "end", "fail", "status", "complete", "builtinExportNames", "importDone", "importFailed"] as const;
type ControlName = (typeof CONTROL)[number];

/** Only well-formed states pass; anything else reads as "the program has finished with 1". */
export function checkState(raw: unknown): RunState {
  const r = (raw && typeof raw === "object" ? raw : {}) as Record<string, unknown>;
  const next = typeof r.next === "number" && Number.isFinite(r.next) ? Math.min(r.next, 2 ** 31 - 1) : -1;
  const exit = r.exit === null ? null : typeof r.exit === "number" && Number.isInteger(r.exit) ? r.exit & 0xff : 1;
  const imports = Array.isArray(r.imports)
    ? r.imports
        .filter((i): i is { id: number; path: string } => !!i && typeof i === "object" && typeof i.id === "number" && typeof i.path === "string")
        .slice(0, 100)
        .map((i) => ({ id: i.id, path: i.path }))
    : [];
  const state: RunState = { next, exit, stdin: r.stdin === true, imports };
  if (typeof r.done === "number" && Number.isInteger(r.done)) state.done = r.done & 0xff;
  return state;
}

/** The compiled runtime: source plus V8's code cache, shared by every isolate. */
export interface RuntimeCode {
  source: string;
  cache?: InstanceType<IVM["ExternalCopy"]>;
}

export class ProgramContext {
  /** Links this context's ES modules, static and import()ed alike, so each is one instance. */
  linker: EsmLinker | null = null;

  private constructor(
    readonly context: Context,
    private readonly fns: Record<ControlName, Reference<(...args: unknown[]) => unknown>>,
  ) {}

  static async create(isolate: Isolate, code: RuntimeCode): Promise<ProgramContext> {
    const context = await isolate.createContext();
    const info = code.cache ? { filename: RUNTIME_FILENAME, cachedData: code.cache } : { filename: RUNTIME_FILENAME, produceCachedData: true };
    const script = await isolate.compileScript(code.source, info as Parameters<Isolate["compileScript"]>[1]);
    if (!code.cache && (script as { cachedData?: RuntimeCode["cache"] }).cachedData) {
      code.cache = (script as { cachedData?: RuntimeCode["cache"] }).cachedData;
    }
    await script.run(context, { release: true });
    const control = (await context.global.get("__kilnControl", { reference: true })) as Reference<Record<string, unknown>>;
    await context.global.delete("__kilnControl");
    const fns = {} as Record<ControlName, Reference<(...args: unknown[]) => unknown>>;
    for (const name of CONTROL) fns[name] = (await control.get(name, { reference: true })) as Reference<(...args: unknown[]) => unknown>;
    control.release();
    return new ProgramContext(context, fns);
  }

  async init(ivm: IVM, bridge: HostBridge, config: ProcessConfig & { repl: boolean }): Promise<void> {
    const args = [...bridge.transferables(), new ivm.ExternalCopy(config).copyInto()] as never[];
    await this.fns.init.apply(undefined, args);
  }

  /** Calls a control function with copied arguments and a copied, untrusted result. */
  call(name: ControlName, args: unknown[], timeout?: number): Promise<unknown> {
    return this.fns[name].apply(undefined, args, {
      arguments: { copy: true },
      result: { copy: true },
      ...(timeout !== undefined ? { timeout: Math.max(1, Math.ceil(timeout)) } : {}),
    });
  }

  /** Queues afterScript behind a script, as a call nobody waits for (see runtime/script-end.ts). */
  afterScript(seq: number, timeout: number): void {
    this.fns.afterScript.applyIgnored(undefined, [seq], { timeout: Math.max(1, Math.ceil(timeout)) });
  }

  /** A call whose result is a RunState, checked: the program can tamper with the runtime that made it. */
  async state(name: ControlName, args: unknown[], timeout?: number): Promise<RunState> {
    return checkState(await this.call(name, args, timeout));
  }

  /** The same, passing an in-isolate value (a Reference) back into the isolate after primitive arguments. */
  async stateWith(name: ControlName, value: Reference<unknown>, timeout?: number, ...primitives: (string | number)[]): Promise<RunState> {
    const raw = await this.fns[name].apply(undefined, [...primitives, value.derefInto({ release: true })] as never[], {
      result: { copy: true },
      ...(timeout !== undefined ? { timeout: Math.max(1, Math.ceil(timeout)) } : {}),
    });
    return checkState(raw);
  }

  /** A list of strings from the runtime (export names, completions), checked. */
  async strings(name: ControlName, args: unknown[], timeout?: number): Promise<string[]> {
    const raw = await this.call(name, args, timeout);
    return Array.isArray(raw) ? raw.filter((s): s is string => typeof s === "string").slice(0, 10_000) : [];
  }

  /** A number from the runtime (an exit code), checked. */
  async code(name: ControlName, args: unknown[], timeout?: number): Promise<number> {
    const raw = await this.call(name, args, timeout);
    return typeof raw === "number" && Number.isInteger(raw) ? raw & 0xff : 1;
  }

  release(): void {
    for (const fn of Object.values(this.fns)) fn.release();
    this.linker = null;
    this.context.release();
  }
}

/** An isolate with one pristine context, ready to become a session's. */
export class Sandbox {
  private spare: ProgramContext | null;

  private constructor(
    readonly isolate: Isolate,
    spare: ProgramContext,
    readonly memoryMiB: number,
    private readonly code: RuntimeCode,
  ) {
    this.spare = spare;
  }

  static async create(ivm: IVM, code: RuntimeCode, memoryMiB: number): Promise<Sandbox> {
    const isolate = new ivm.Isolate({ memoryLimit: Math.max(8, memoryMiB) });
    try {
      return new Sandbox(isolate, await ProgramContext.create(isolate, code), memoryMiB, code);
    } catch (error) {
      if (!isolate.isDisposed) isolate.dispose();
      throw error;
    }
  }

  /** A context never used yet: the pristine one first, then fresh ones. */
  async freshContext(): Promise<ProgramContext> {
    const spare = this.spare;
    this.spare = null;
    return spare ?? ProgramContext.create(this.isolate, this.code);
  }

  get disposed(): boolean {
    return this.isolate.isDisposed;
  }

  dispose(): void {
    if (!this.isolate.isDisposed) this.isolate.dispose();
  }
}
