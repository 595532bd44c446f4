// The isolate kernel of one session: query runs in a persistent REPL context,
// batch steps in a fresh context each (a new `node` process, as it were), both
// in the session's isolate. When a run breaks the isolate (time limit,
// interrupt, memory limit) the kernel takes a fresh one; files live in the VFS
// and are kept.

import { posix } from "node:path";
import type { BatchStep, Kernel, KernelContext, StepIO } from "../kernel.ts";
import { WORK_DIR } from "../../vfs/paths.ts";
import type { IVM } from "./addon.ts";
import { HostBridge } from "./bridge.ts";
import { parseCommand } from "./commands.ts";
import { compileError, EsmLinker } from "./esm.ts";
import { isAwaitError, wrapTopLevelAwait } from "./repl.ts";
import { rewriteDynamicImport } from "./dynamic-import.ts";
import { ModuleHost, sessionPath } from "./resolve.ts";
import { drive, describeError, type RunContext, type RunResult } from "./run.ts";
import type { ProgramContext, RunState, Sandbox } from "./sandbox.ts";
import { isTypeScript, outputPath, stripTypes, TranspileError } from "./transpile.ts";
import { FAILED, SCRIPT_END_LINE, SCRIPT_END_SETUP } from "./runtime/script-end.ts";

export interface KernelDeps {
  ivm: IVM;
  /** A ready sandbox with the given heap limit (from the factory's warm pool). */
  sandbox(memoryMiB: number): Promise<Sandbox>;
  /** Built-in module names the runtime provides. */
  builtins: ReadonlySet<string>;
  nodeVersion: string;
  nodeVersions: Record<string, string>;
}

/** isolated-vm marks compile errors with "[file:line:col]"; errors the code throws have no such suffix. */
function isCompileError(error: unknown, filename: string): boolean {
  return error instanceof Error && error.name === "SyntaxError" && error.message.endsWith("]") && error.message.includes(` [${filename}:`);
}

const MAIN_CANDIDATES = ["main.js", "main.mjs", "main.ts", "index.js"];
const NODE_PATH = "/usr/local/bin/node";

export class IsolateKernel implements Kernel {
  private sandbox: Sandbox | null = null;
  private next: Promise<Sandbox> | null = null;
  private repl: ProgramContext | null = null;
  private readonly bridge: HostBridge;
  private readonly modules: ModuleHost;
  private heap: Record<string, number> = {};
  private runs = 0;
  private replacements = 0;
  private replInputs = 0;
  /** Query scripts run, for afterScript's sequence numbers. */
  private scripts = 0;
  private cpuNsBefore = 0;

  constructor(
    private readonly context: KernelContext,
    private readonly deps: KernelDeps,
  ) {
    this.modules = new ModuleHost(context.vfs, deps.builtins);
    this.bridge = new HostBridge(deps.ivm, { vfs: context.vfs, modules: this.modules, heap: async () => this.heap });
  }

  async start(): Promise<void> {
    this.sandbox = await this.deps.sandbox(this.context.limits.memoryMiB);
  }

  async query(code: string, io: StepIO): Promise<number> {
    let source = code;
    if (this.context.image === "typescript") {
      try {
        source = await stripTypes(code, "REPL.ts");
      } catch (error) {
        io.write("stderr", `${error instanceof TranspileError ? error.message : describeError(error)}\n`);
        return 1;
      }
    }
    const sandbox = await this.ready();
    const context = await this.replContext(sandbox);
    const filename = `REPL${++this.replInputs}`;
    source = rewriteDynamicImport(source, `${WORK_DIR}/${filename}`);
    return this.finish(
      await drive(this.runContext(sandbox, context, io), async (timeout) => {
        if (!/\bawait\b/.test(source)) return this.runScript(sandbox, context, source, filename, io.signal, timeout);
        let script;
        let wrapped = false;
        try {
          script = await sandbox.isolate.compileScript(source, { filename });
        } catch (error) {
          const awaited = source.includes("await") && isAwaitError(error) ? wrapTopLevelAwait(source) : null;
          if (awaited === null) throw compileError(filename, source, error);
          script = await sandbox.isolate.compileScript(awaited, { filename });
          wrapped = true;
        }
        const result = await script.run(context.context, { reference: true, timeout: timeout(), release: true });
        if (wrapped) return context.stateWith("track", result, timeout());
        result.release();
        return context.state("tick", [Date.now()], timeout());
      }),
    );
  }

  /**
   * A query without await, the common case. The script runs in one call into the isolate, and
   * afterScript, queued behind it, says whether the run ended there (see runtime/script-end.ts):
   * most queries need no second call. A script the end line does not fit (it does not
   * compile) runs alone, so its own error is the one reported.
   */
  private async runScript(sandbox: Sandbox, context: ProgramContext, source: string, filename: string, signal: AbortSignal, timeout: () => number): Promise<RunState> {
    // isolated-vm records its caller's stack (ten frames, with source positions) at every call
    // into the isolate: a fresh one, after an await, keeps that cheap.
    await undefined;
    const seq = ++this.scripts;
    const ran = context.context.eval(source + SCRIPT_END_LINE, { filename, timeout: timeout() });
    context.afterScript(seq, timeout());
    let marked = true;
    try {
      await ran;
    } catch (error) {
      if (!isCompileError(error, filename)) throw error;
      marked = false;
    }
    if (marked) {
      const outcome = await this.bridge.scriptEnd(seq, () => sandbox.disposed || signal.aborted);
      if (outcome === null) throw new Error("the isolate went away during the run");
      if (outcome >= 0) return { next: -1, exit: null, stdin: false, imports: [], done: outcome & 0xff };
      if (outcome === FAILED) await context.call("rethrow", [], timeout());
    } else {
      try {
        await context.context.eval(source, { filename, timeout: timeout() });
      } catch (error) {
        throw isCompileError(error, filename) ? compileError(filename, source, error) : error;
      }
    }
    return context.state("tick", [Date.now()], timeout());
  }

  async step(step: BatchStep, command: string, io: StepIO): Promise<number> {
    const cmd = parseCommand(command);
    switch (cmd.kind) {
      case "unsupported":
        io.write("stderr", `${cmd.reason}\n`);
        return 127;
      case "tsc":
        return this.build(io, cmd.files);
      case "node": {
        const file = posix.resolve(WORK_DIR, cmd.file);
        if (!(await this.isFile(file))) {
          io.write("stderr", `Error: Cannot find module '${file}'\n`);
          return 127;
        }
        return this.runFile(file, cmd.args, io);
      }
      case "default":
        if (step === "clean") return 0;
        if (step === "build") return this.context.image === "typescript" ? this.build(io, []) : 0;
        for (const name of MAIN_CANDIDATES) {
          const file = `${WORK_DIR}/${name}`;
          if (await this.isFile(file)) return this.runFile(file, [], io);
        }
        io.write("stderr", `exec: nothing to run (no ${MAIN_CANDIDATES.join(", ")})\n`);
        return 127;
    }
  }

  async complete(code: string): Promise<string[]> {
    const sandbox = this.sandbox;
    if (!sandbox || sandbox.disposed || !this.repl) return [];
    try {
      return await this.repl.strings("complete", [code], 200);
    } catch {
      return [];
    }
  }

  async restart(): Promise<void> {
    this.discard();
    this.sandbox = await this.ready();
  }

  async destroy(): Promise<void> {
    this.discard();
    const next = this.next;
    this.next = null;
    if (next) next.then((s) => s.dispose(), () => {});
  }

  stats(): Record<string, number> {
    const isolate = this.sandbox && !this.sandbox.disposed ? this.sandbox.isolate : null;
    return {
      runs: this.runs,
      isolateReplacements: this.replacements,
      heapUsedBytes: this.heap.heapUsed ?? 0,
      heapLimitMiB: this.context.limits.memoryMiB,
      cpuTimeMs: Math.round((this.cpuNsBefore + (isolate ? Number(isolate.cpuTime) : 0)) / 1e6),
    };
  }

  private async ready(): Promise<Sandbox> {
    if (this.sandbox && !this.sandbox.disposed) return this.sandbox;
    this.discard();
    const next = this.next ?? this.deps.sandbox(this.context.limits.memoryMiB);
    this.next = null;
    this.sandbox = await next;
    return this.sandbox;
  }

  /** Drops the isolate and whatever lived in it. */
  private discard(): void {
    const sandbox = this.sandbox;
    if (sandbox) {
      if (!sandbox.disposed) this.cpuNsBefore += Number(sandbox.isolate.cpuTime);
      sandbox.dispose();
    }
    this.sandbox = null;
    this.repl = null;
  }

  private finish(result: RunResult): number {
    this.runs++;
    const sandbox = this.sandbox;
    if (result.broken || !sandbox || sandbox.disposed) {
      this.replacements++;
      this.discard();
      // The next run should not wait for isolate creation.
      this.next = this.deps.sandbox(this.context.limits.memoryMiB);
      this.next.catch(() => {});
    } else {
      try {
        const h = sandbox.isolate.getHeapStatisticsSync();
        this.heap = { rss: h.total_physical_size + h.externally_allocated_size, heapTotal: h.total_heap_size, heapUsed: h.used_heap_size, external: h.externally_allocated_size };
      } catch {
        this.heap = {};
      }
    }
    return result.code;
  }

  private linker(sandbox: Sandbox, context: ProgramContext): EsmLinker {
    context.linker ??= new EsmLinker(sandbox.isolate, this.modules, (name) => context.strings("builtinExportNames", [name], 5000));
    return context.linker;
  }

  private runContext(sandbox: Sandbox, context: ProgramContext, io: StepIO): RunContext {
    return {
      sandbox,
      context,
      bridge: this.bridge,
      io,
      timeoutMs: this.context.limits.stepTimeoutMs,
      importModule: async (path, timeout) => {
        const module = await this.linker(sandbox, context).link(path, context.context);
        await module.evaluate({ timeout });
        return module.namespace;
      },
    };
  }

  private processConfig(argv: string[], repl: boolean) {
    return {
      argv,
      env: { ...this.context.environ },
      version: this.deps.nodeVersion,
      versions: this.deps.nodeVersions,
      repl,
    };
  }

  private async replContext(sandbox: Sandbox): Promise<ProgramContext> {
    if (this.repl) return this.repl;
    const context = await sandbox.freshContext();
    await context.init(this.deps.ivm, this.bridge, this.processConfig([NODE_PATH], true));
    await context.context.eval(SCRIPT_END_SETUP);
    this.repl = context;
    return context;
  }

  private async runFile(file: string, args: string[], io: StepIO): Promise<number> {
    const sandbox = await this.ready();
    const context = await sandbox.freshContext();
    try {
      await context.init(this.deps.ivm, this.bridge, this.processConfig([NODE_PATH, file, ...args], false));
      const result = await drive(this.runContext(sandbox, context, io), async (timeout) => {
        const { format } = await this.modules.resolve(file, `${WORK_DIR}/`, "import");
        if (format !== "esm") return context.state("runMain", [file], timeout());
        const main = await this.linker(sandbox, context).link(file, context.context);
        await main.evaluate({ timeout: timeout() });
        return context.state("tick", [Date.now()], timeout());
      });
      return this.finish(result);
    } finally {
      if (!sandbox.disposed) context.release();
    }
  }

  /** Type-strips .ts files to .js beside them: the given ones, or all under /home/work. */
  private async build(io: StepIO, files: string[]): Promise<number> {
    const { vfs } = this.context;
    const targets = files.length > 0 ? files.map((f) => sessionPath(posix.resolve(WORK_DIR, f))) : await this.typeScriptFiles("");
    let failed = 0;
    for (const target of targets) {
      if (target === null || !isTypeScript(target)) {
        io.write("stderr", `error: ${String(target)} is not a TypeScript file in ${WORK_DIR}\n`);
        failed++;
        continue;
      }
      try {
        const source = new TextDecoder().decode(await vfs.readFile(target));
        const js = await stripTypes(source, target);
        await vfs.writeFiles([{ path: outputPath(target), data: new TextEncoder().encode(js) }]);
      } catch (error) {
        io.write("stderr", `${error instanceof TranspileError ? error.message : `${target}: ${error instanceof Error ? error.message : String(error)}`}\n`);
        failed++;
      }
    }
    return failed > 0 ? 2 : 0;
  }

  private async typeScriptFiles(dir: string): Promise<string[]> {
    const out: string[] = [];
    for (const entry of await this.context.vfs.list(dir)) {
      const path = dir ? `${dir}/${entry.name}` : entry.name;
      if (entry.kind === "dir" && entry.name !== "node_modules" && !entry.name.startsWith(".")) out.push(...(await this.typeScriptFiles(path)));
      else if (entry.kind === "file" && isTypeScript(path)) out.push(path);
    }
    return out;
  }

  private async isFile(file: string): Promise<boolean> {
    const sp = sessionPath(file);
    return sp !== null && (await this.context.vfs.stat(sp))?.kind === "file";
  }
}
