// `kiln run --lang c main.c util.c`: a session of its own, the files uploaded, the build
// and then the program run with their output streamed live (build output to stderr,
// the program's stdout to stdout), input requests answered from the terminal or
// --stdin FILE, what the program wrote downloaded with --out DIR, and the session
// removed whatever happens (Ctrl-C too). Exits with the program's exit code, or the
// build's when the build fails.

import type { KilnSession, RunEvent, StepOutput } from "../client/index.ts";
import { collectRun } from "../client/index.ts";
import { filesFromPaths } from "../client/node.ts";
import { CLIENT_OPTIONS, clientOf, ENV_OPTION, environOf, json, LANG_OPTION, printJson, text, UsageError, type Args, type Command } from "./command.ts";
import { fileLines, streamLines, type LineSource } from "./input.ts";
import { onStop } from "./stop.ts";
import { changedSince, downloadInto, snapshot, uploadAll } from "./transfer.ts";

/** timeout(1)'s exit code for a program stopped at its time limit. */
const EXIT_TIMEOUT = 124;

export const runCommand: Command = {
  name: "run",
  summary: "run files in a new session: upload, build, run with live output, download what it wrote, remove the session",
  usage: "--lang LANG [options] FILE...",
  options: [
    LANG_OPTION,
    { name: "build", value: "CMD", help: 'the build command (default "*", the language\'s own; "" for none)' },
    { name: "exec", value: "CMD", help: 'the command that runs the program (default "*", the language\'s own: ./main for C, main.js for JavaScript…)' },
    { name: "clean", value: "CMD", help: "a command to run before the build (default none)" },
    { name: "stdin", value: "FILE", help: "answer the program's input requests with this file's lines (default: the terminal's)" },
    { name: "out", value: "DIR", help: "download the files the program wrote or changed into DIR" },
    ENV_OPTION,
    ...CLIENT_OPTIONS,
  ],
  run,
};

interface Outcome {
  exitCode: number;
  /** The build or the program was stopped at its time limit. */
  timedOut: boolean;
  build: StepOutput | null;
  /** Null when the build failed. */
  exec: StepOutput | null;
  /** What --out received, relative to it. */
  files: string[];
}

async function run(args: Args): Promise<number> {
  const lang = text(args, "lang");
  if (!lang) throw new UsageError("--lang is required");
  if (args.positionals.length === 0) throw new UsageError("name at least one file to run");
  const machine = json(args);
  const client = clientOf(args);
  const files = await filesFromPaths(args.positionals);
  const input = text(args, "stdin") !== undefined ? await fileLines(text(args, "stdin")!) : streamLines(process.stdin);

  // Watched from the moment it is asked for: Ctrl-C during the creation removes it too.
  const creating = client.createSession({ lang, environ: environOf(args) });
  let removed: Promise<unknown> | undefined;
  const remove = () => (removed ??= creating.then((s) => s.destroy()).catch(() => undefined));
  const stopping = onStop(async (signal) => {
    await remove();
    if (!machine) process.stderr.write(`\nkiln: ${signal}: stopped; the session was removed\n`);
  });
  try {
    const session = await creating;
    const outcome = await runIn(session, args, files, input, machine);
    if (machine) printJson({ session: session.name, ...outcome });
    return outcome.exitCode;
  } finally {
    input.close();
    stopping.dispose();
    await remove();
  }
}

async function runIn(session: KilnSession, args: Args, files: Awaited<ReturnType<typeof filesFromPaths>>, input: LineSource, machine: boolean): Promise<Outcome> {
  await uploadAll(session, files);
  const answer = () => input.next();
  const show = machine ? undefined : print;

  // The build runs on its own so that what the program writes can be told from what the build made.
  const build = await collectRun(tap(session.run({ mode: "batch", clean: text(args, "clean") ?? null, build: text(args, "build") ?? "*", exec: null }, { input: answer }), show));
  const buildCode = build.steps.build?.exitCode ?? 0;
  if (build.timedOut || buildCode !== 0) {
    if (!machine) process.stderr.write(build.timedOut ? "kiln: the build timed out\n" : `kiln: the build failed with exit code ${buildCode}\n`);
    return { exitCode: build.timedOut ? EXIT_TIMEOUT : buildCode, timedOut: build.timedOut, build: build.steps.build ?? null, exec: null, files: [] };
  }

  const outDir = text(args, "out");
  const before = outDir !== undefined ? await snapshot(session) : null;
  const exec = await collectRun(tap(session.run({ mode: "batch", exec: text(args, "exec") ?? "*" }, { input: answer }), show));
  if (exec.timedOut && !machine) process.stderr.write("kiln: the program was stopped at its time limit\n");
  const written = before && outDir !== undefined ? await downloadInto(session, await changedSince(session, before), outDir, true) : [];
  const { exitCode, stdout, stderr } = exec;
  return { exitCode: exec.timedOut ? EXIT_TIMEOUT : (exitCode ?? 1), timedOut: exec.timedOut, build: build.steps.build ?? null, exec: { exitCode, stdout, stderr }, files: written };
}

/** Passes the events on, showing each as it arrives. */
async function* tap(events: AsyncIterable<RunEvent>, show: ((event: RunEvent) => void) | undefined): AsyncGenerator<RunEvent> {
  for await (const event of events) {
    show?.(event);
    yield event;
  }
}

/** The terminal's view: the program's stdout on stdout, everything else on stderr. */
function print(event: RunEvent): void {
  switch (event.type) {
    case "stdout":
      (event.step === "exec" ? process.stdout : process.stderr).write(event.text);
      break;
    case "stderr":
      process.stderr.write(event.text);
      break;
    case "media":
      process.stderr.write(`[kiln: ${event.mime}, ${event.data.length} characters not shown]\n`);
      break;
    case "html":
      process.stderr.write(`[kiln: HTML, ${event.html.length} characters not shown]\n`);
      break;
    case "log":
      process.stderr.write(`[${event.level}] ${event.logger}: ${event.message}\n`);
      break;
  }
}
