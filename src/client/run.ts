// A run as an async iterator: the continue/input loop of Backend.AI's Code Execution
// Model hidden behind events (console items as they arrive, steps finished, input
// requests, the end). Leaving the loop early interrupts the run and reads it to its
// end, so the session is free for the next one.

import { KilnError } from "./errors.ts";
import type { BatchCommands, ConsoleItem, ExecuteRequest, ExecuteResult } from "./types.ts";

export type Step = "query" | "clean" | "build" | "exec";

export type RunEvent =
  | { type: "stdout" | "stderr"; text: string; step: Step }
  | { type: "media"; mime: string; data: string; step: Step }
  | { type: "html"; html: string; step: Step }
  | { type: "log"; level: string; time: string; logger: string; message: string; step: Step }
  | { type: "clean-finished" | "build-finished"; exitCode: number | null }
  /** The program waits for a line of input; the run's `input` option answers it. */
  | { type: "waiting-input"; isPassword: boolean; prompt: string; step: Step }
  | { type: "finished"; exitCode: number | null; runId: string }
  | { type: "exec-timeout"; runId: string };

export type RunJob = { mode: "query"; code: string } | ({ mode: "batch" } & BatchCommands);

export interface InputRequest {
  isPassword: boolean;
  /** What the program printed on the line it is waiting on ("Name? "). */
  prompt: string;
}

export interface RunOptions {
  /**
   * Answers each request for input with one line (without its newline). An empty answer
   * is end of input for JavaScript stream reads. Without it, a request for input stops
   * the run and throws KilnError "input-required".
   */
  input?: (request: InputRequest) => string | Promise<string>;
  /** The run's id; default one the server picks. */
  runId?: string;
  /** Aborting stops the run (interrupt) and throws KilnError "aborted". */
  signal?: AbortSignal;
}

/** What a run needs of its session. */
export interface RunTarget {
  execute(request: ExecuteRequest, signal?: AbortSignal): Promise<ExecuteResult>;
  interrupt(): Promise<void>;
}

/** Calls spent reading an interrupted run to its end before giving up on it. */
const DRAIN_CALLS = 50;

export async function* runEvents(target: RunTarget, job: RunJob, options: RunOptions = {}): AsyncGenerator<RunEvent, void, undefined> {
  const { signal } = options;
  const first: ExecuteRequest =
    job.mode === "query"
      ? { mode: "query", runId: options.runId ?? null, code: job.code }
      : { mode: "batch", runId: options.runId ?? null, code: "", options: { clean: job.clean ?? null, build: job.build ?? null, exec: job.exec ?? null } };
  let result = await target.execute(first, signal);
  const { runId } = result;
  let step: Step = job.mode === "query" ? "query" : "clean";
  let line = "";
  let ended = false;
  try {
    for (;;) {
      for (const item of result.console) {
        if (item[0] === "stdout") line = lastLine(line, item[1]);
        yield toEvent(item, step);
      }
      switch (result.status) {
        case "finished":
          ended = true;
          yield { type: "finished", exitCode: result.exitCode, runId };
          return;
        case "exec-timeout":
          ended = true;
          yield { type: "exec-timeout", runId };
          return;
        case "clean-finished":
        case "build-finished":
          yield { type: result.status, exitCode: result.exitCode };
          step = result.status === "clean-finished" ? "build" : "exec";
          break;
        case "waiting-input": {
          const request = { isPassword: result.options?.is_password === true, prompt: line };
          yield { type: "waiting-input", ...request, step };
          if (!options.input) throw new KilnError({ status: 0, title: "The program waits for input and the run has no input option", problem: "input-required" });
          const text = await options.input(request);
          line = "";
          result = await target.execute({ mode: "input", runId, code: text }, signal);
          continue;
        }
      }
      result = await target.execute({ mode: "continue", runId, code: "" }, signal);
    }
  } finally {
    if (!ended) await stop(target, runId);
  }
}

/** Interrupts a run left unfinished and reads it to its end; best effort. */
async function stop(target: RunTarget, runId: string): Promise<void> {
  try {
    await target.interrupt();
    for (let i = 0; i < DRAIN_CALLS; i++) {
      const { status } = await target.execute({ mode: "continue", runId, code: "" });
      if (status === "finished" || status === "exec-timeout") return;
      if (status === "waiting-input") await target.execute({ mode: "input", runId, code: "" });
    }
  } catch {
    // The session may be gone (destroyed, server stopped): nothing is left to free.
  }
}

function toEvent(item: ConsoleItem, step: Step): RunEvent {
  switch (item[0]) {
    case "stdout":
    case "stderr":
      return { type: item[0], text: item[1], step };
    case "media":
      return { type: "media", mime: item[1][0], data: item[1][1], step };
    case "html":
      return { type: "html", html: item[1], step };
    case "log": {
      const [level, time, logger, message] = item[1];
      return { type: "log", level, time, logger, message, step };
    }
  }
}

/** The text after the last newline, carried across chunks. */
function lastLine(previous: string, chunk: string): string {
  const newline = chunk.lastIndexOf("\n");
  return newline < 0 ? previous + chunk : chunk.slice(newline + 1);
}

export interface StepOutput {
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOutput extends StepOutput {
  runId: string;
  /** True when the run ended by its step's time limit (exitCode is then null). */
  timedOut: boolean;
  /** Each step's own output; the top-level fields are the last step's (exec, or the query). */
  steps: Partial<Record<Step, StepOutput>>;
}

/** Reads a run to its end and gathers its output by step (rich items are left out). */
export async function collectRun(events: AsyncIterable<RunEvent>): Promise<RunOutput> {
  const steps: Partial<Record<Step, StepOutput>> = {};
  const of = (step: Step) => (steps[step] ??= { exitCode: null, stdout: "", stderr: "" });
  // A batch's last step is exec (its steps report in order); a query has only itself.
  let final: Step = "query";
  for await (const event of events) {
    switch (event.type) {
      case "stdout":
      case "stderr":
        of(event.step)[event.type] += event.text;
        if (event.step !== "query") final = "exec";
        break;
      case "clean-finished":
      case "build-finished":
        of(event.type === "clean-finished" ? "clean" : "build").exitCode = event.exitCode;
        final = "exec";
        break;
      case "finished":
      case "exec-timeout": {
        const output = of(final);
        if (event.type === "finished") output.exitCode = event.exitCode;
        return { runId: event.runId, timedOut: event.type === "exec-timeout", steps, ...output };
      }
    }
  }
  throw new KilnError({ status: 0, title: "The run ended without a final status", problem: "bad-response" });
}
