// The QuickJS kernel of one session. Queries run in a persistent REPL guest,
// each batch step in a fresh one (a new `node` process, as it were). Every
// guest has a WebAssembly instance of QuickJS to itself: asyncify allows one
// suspended call per instance and sessions run concurrently, an instance's
// memory never shrinks, and dropping the instance is the one clean way to free
// a runtime (quickjs-emscripten's runtime.dispose() throws once module loaders
// and host functions are set). A run that hits a limit takes its guest with it;
// the next run gets a new one. Files live in the VFS and are kept.

import type { QuickJSAsyncWASMModule } from "quickjs-emscripten-core";
import type { BatchStep, Kernel, KernelContext, StepIO } from "../kernel.ts";
import { stripTypes } from "../isolate/transpile.ts";
import { batchStep } from "./batch.ts";
import { callKiln, createGuest, type EvalResult, type Guest } from "./host.ts";
import { Modules } from "./modules.ts";
import { drive, type RunResult } from "./run.ts";
import { replSource } from "./repl.ts";

const NODE_PATH = "/usr/local/bin/node";
/** What process.version says: the language level QuickJS implements, roughly. */
const VERSION = "v20.0.0";

export class QuickJSKernel implements Kernel {
  private repl: Guest | null = null;
  private runs = 0;
  private replacements = 0;
  private replInputs = 0;

  constructor(
    private readonly context: KernelContext,
    private readonly load: () => Promise<QuickJSAsyncWASMModule>,
  ) {}

  async query(code: string, io: StepIO): Promise<number> {
    const source = this.context.image === "typescript" ? await stripTypes(code, "REPL.ts").catch((error: unknown) => (error instanceof Error ? error : new Error(String(error)))) : code;
    if (source instanceof Error) return io.write("stderr", `${source.message}\n`), 1;
    const guest = (this.repl ??= createGuest(await this.load(), this.context.vfs, this.context.limits.memoryMiB, this.processConfig([NODE_PATH])));
    const filename = `REPL${++this.replInputs}`;
    return this.finish(await drive(guest, io, this.context.limits.stepTimeoutMs, () => guest.context.evalCodeAsync(replSource(source), filename)), guest);
  }

  step(step: BatchStep, command: string, io: StepIO): Promise<number> {
    const { image, vfs } = this.context;
    return batchStep({ image, vfs, runFile: (file, args, stepIO) => this.runFile(file, args, stepIO) }, step, command, io);
  }

  async complete(): Promise<string[]> {
    return [];
  }

  async restart(): Promise<void> {
    this.repl = null;
  }

  async destroy(): Promise<void> {
    this.repl = null;
  }

  stats(): Record<string, number> {
    return { runs: this.runs, instanceReplacements: this.replacements, heapLimitMiB: this.context.limits.memoryMiB };
  }

  private finish(result: RunResult, guest: Guest): number {
    this.runs++;
    if (result.broken && guest === this.repl) {
      // The runtime may be wedged mid-allocation or hold the bomb's garbage.
      this.replacements++;
      this.repl = null;
    }
    return result.code;
  }

  private processConfig(argv: string[]) {
    return { argv, env: { ...this.context.environ }, version: VERSION };
  }

  private async runFile(file: string, args: string[], io: StepIO): Promise<number> {
    const guest = createGuest(await this.load(), this.context.vfs, this.context.limits.memoryMiB, this.processConfig([NODE_PATH, file, ...args]));
    const modules = new Modules(this.context.vfs);
    const format = await modules.format(file);
    const result = await drive(guest, io, this.context.limits.stepTimeoutMs, async (): Promise<EvalResult> => {
      if (format !== "esm") return guest.context.evalCodeAsync(`__kiln.requireFrom(${JSON.stringify(file)}, ${JSON.stringify(format)}); undefined`, "node:internal/kiln/main");
      const evaluated = await guest.context.evalCodeAsync(await modules.source(file), file, { type: "module" });
      if (evaluated.error) return evaluated;
      // The module's evaluation promise (top-level await): its rejection is the run's uncaught error.
      return evaluated.value.consume((promise) => callKiln(guest, "track", promise));
    });
    return this.finish(result, guest);
  }
}
