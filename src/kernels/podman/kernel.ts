// The Kernel of one podman session: steps and queries run by the runner inside the
// session's container, with Backend.AI's environment; limits surface as results.

import type { BatchStep, Kernel, KernelContext, StepIO } from "../kernel.ts";
import { checkSessionId } from "./driver.ts";
import { BUILD_AND_RUN, defaultCommand, type Language } from "./languages.ts";
import type { Box, Pool } from "./pool.ts";
import { RunnerClosed, type StepRequest } from "./protocol.ts";

/** Backend.AI's child environment (kernel runner's default_child_env); config.environ goes on top. */
const BASE_ENV = ["TERM=xterm", "LANG=C.UTF-8", "SHELL=/bin/bash", "USER=work", "HOME=/home/work"];
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
const EXIT_INTERRUPTED = 130;
const EXIT_KILLED = 137;

export interface KernelSettings {
  pool: Pool;
  /** Output bytes per stream and step that the runner forwards; past it, a marker. */
  outputCapBytes: number;
  /** How long a step may take to report after being aborted before its container is replaced. */
  abortGraceMs: number;
}

type StepBody = { kind: "shell"; command: string } | { kind: "repl"; code: string; argv: readonly string[] };

export class PodmanKernel implements Kernel {
  private steps = 0;
  private peakMemoryKiB = 0;
  private oomKills = 0;
  private replacements = 0;

  private constructor(
    private readonly context: KernelContext,
    private readonly language: Language,
    private box: Box,
    private readonly env: readonly string[],
    private readonly settings: KernelSettings,
  ) {}

  static async create(context: KernelContext, language: Language, settings: KernelSettings): Promise<PodmanKernel> {
    const env = [...BASE_ENV];
    for (const [key, value] of Object.entries(context.environ)) {
      // The API validated these; they become C strings in the runner, so check again.
      if (!ENV_KEY.test(key) || value.includes("\0")) throw new Error(`invalid environment variable ${JSON.stringify(key)}`);
      env.push(`${key}=${value}`);
    }
    const box = await PodmanKernel.acquire(context, language, settings);
    return new PodmanKernel(context, language, box, env, settings);
  }

  private static acquire(context: KernelContext, language: Language, settings: KernelSettings): Promise<Box> {
    const dir = context.vfs.hostRoot;
    if (context.vfs.kind !== "disk" || !dir) throw new Error("podman sessions need a disk-backed session directory");
    const limits = { memoryMiB: context.limits.memoryMiB, cpus: context.limits.cpus };
    return settings.pool.acquire(language.name, limits, { id: checkSessionId(context.sessionId), dir });
  }

  step(step: BatchStep, command: string, io: StepIO): Promise<number> {
    return this.run({ kind: "shell", command: command === "*" ? defaultCommand(step) : command }, io);
  }

  async query(code: string, io: StepIO): Promise<number> {
    const mode = this.language.query;
    switch (mode.kind) {
      case "repl":
        return this.run({ kind: "repl", code, argv: mode.argv }, io);
      case "shell":
        return this.run({ kind: "shell", command: code }, io);
      case "main-file":
        await this.context.vfs.writeFiles([{ path: mode.file, data: new TextEncoder().encode(code) }]);
        return this.run({ kind: "shell", command: BUILD_AND_RUN }, io);
    }
  }

  async complete(): Promise<string[]> {
    return [];
  }

  /** A fresh container (and so a fresh interpreter); the session's files stay. */
  async restart(): Promise<void> {
    await this.replaceBox();
  }

  async destroy(): Promise<void> {
    await this.box.destroy();
  }

  stats(): Record<string, number> {
    return { steps: this.steps, peakMemoryKiB: this.peakMemoryKiB, oomKills: this.oomKills, containerReplacements: this.replacements };
  }

  private async replaceBox(): Promise<void> {
    await this.box.destroy();
    this.replacements++;
    this.box = await PodmanKernel.acquire(this.context, this.language, this.settings);
  }

  private async run(body: StepBody, io: StepIO): Promise<number> {
    if (io.signal.aborted) return EXIT_INTERRUPTED;
    // A container that went away (its runner killed by the OOM killer, say) is replaced, files kept.
    if (!this.box.alive) await this.replaceBox();
    const box = this.box;
    const request: StepRequest = { ...body, env: this.env };
    let grace: ReturnType<typeof setTimeout> | undefined;
    const onAbort = () => {
      box.channel.kill();
      // A runner that does not answer a kill is broken: its box goes, and the step with it.
      grace = setTimeout(() => void box.destroy(), this.settings.abortGraceMs);
    };
    io.signal.addEventListener("abort", onAbort, { once: true });
    this.steps++;
    try {
      const report = await box.channel.exec(request, this.settings.outputCapBytes, {
        output: (stream, data) => io.write(stream, data),
        waiting: (isPassword) => {
          io.readInput({ isPassword }).then(
            (text) => box.channel.input(`${text}\n`),
            () => undefined, // aborted while waiting: the kill is on its way
          );
        },
      });
      this.peakMemoryKiB = Math.max(this.peakMemoryKiB, report.peakRssKiB);
      if (report.oom) {
        this.oomKills++;
        io.write("stderr", "memory limit exceeded\n");
        return report.code === 0 ? 0 : EXIT_KILLED;
      }
      return report.code;
    } catch (error) {
      if (!(error instanceof RunnerClosed)) throw error;
      if (io.signal.aborted) return EXIT_INTERRUPTED;
      io.write("stderr", "kiln: the session's container stopped during this step; a new one takes over (files are kept)\n");
      return EXIT_KILLED;
    } finally {
      clearTimeout(grace);
      io.signal.removeEventListener("abort", onAbort);
    }
  }
}
