// Runs the `kiln` command as users do (bin/kiln.js in a child process) and gathers
// what it printed and its exit code; and the server and scratch directory it works with.

import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { BIN, NODE, ROOT, startKiln, type KilnServer } from "../client/kiln-server.ts";

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Running {
  child: ChildProcess;
  /** Resolves once stdout matches. */
  waitFor(pattern: RegExp): Promise<void>;
  finished: Promise<Finished>;
}

export interface KilnOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** Written to stdin, which is then closed (default: closed at once). */
  input?: string;
  /** Its own process group, so that a test can signal it as a terminal does. */
  detached?: boolean;
}

export function start(args: readonly string[], options: KilnOptions = {}): Running {
  const child = spawn(NODE, [BIN, ...args], {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, ...options.env },
    detached: options.detached ?? false,
  });
  let stdout = "";
  let stderr = "";
  const watchers: { pattern: RegExp; resolve: () => void; reject: (error: Error) => void }[] = [];
  child.stdout!.on("data", (d) => {
    stdout += d;
    for (const w of watchers.filter((w) => w.pattern.test(stdout))) w.resolve();
  });
  child.stderr!.on("data", (d) => (stderr += d));
  child.stdin!.end(options.input ?? "");
  const finished = new Promise<Finished>((resolve) =>
    child.on("close", (code) => {
      for (const w of watchers) w.reject(new Error(`kiln ${args.join(" ")} ended (${code}) before printing ${w.pattern}:\n${stdout}\n${stderr}`));
      resolve({ code, stdout, stderr });
    }),
  );
  return {
    child,
    finished,
    waitFor: (pattern) => (pattern.test(stdout) ? Promise.resolve() : new Promise((resolve, reject) => watchers.push({ pattern, resolve, reject }))),
  };
}

export function kiln(args: readonly string[], options: KilnOptions = {}): Promise<Finished> {
  return start(args, options).finished;
}

export interface CliEnv {
  server: KilnServer;
  /** KILN_URL naming the server. */
  env: Record<string, string>;
  /** A scratch directory, removed by close(). */
  dir: string;
  close(): Promise<void>;
}

/** A `kiln serve` and a scratch directory holding these files (path → content). */
export async function cliEnv(files: Record<string, string> = {}): Promise<CliEnv> {
  const server = await startKiln();
  const dir = await mkdtemp(join(tmpdir(), "kiln-cli-"));
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  return {
    server,
    env: { KILN_URL: server.url },
    dir,
    async close() {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
