// The child server's lifecycle and memory: start it, find its process tree, read
// and reset RSS high-water marks from /proc.

import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import type { ServerOptions } from "./server.ts";

const HERE = dirname(fileURLToPath(import.meta.url));

export interface BenchServer {
  url: string;
  pid: number;
  notes: string[];
  images: string[];
  child: ChildProcess;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
// Never leave a server (and its containers) behind when the harness dies.
process.on("exit", () => {
  for (const child of live) child.kill("SIGTERM");
});

export function startServer(options: ServerOptions, extraNodeArgs: string[] = []): Promise<BenchServer> {
  const child = spawn(process.execPath, ["--no-node-snapshot", ...extraNodeArgs, "--import", "tsx", join(HERE, "server.ts"), JSON.stringify(options)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  live.add(child);
  child.once("exit", () => live.delete(child));
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const onExit = (code: number | null) => reject(new Error(`bench server exited with ${code} before listening`));
    child.once("exit", onExit);
    lines.once("line", (line) => {
      child.off("exit", onExit);
      lines.on("line", (l) => process.stderr.write(`[server] ${l}\n`));
      const info = JSON.parse(line) as { url: string; pid: number; notes: string[]; images: string[] };
      resolve({
        ...info,
        child,
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
            child.once("exit", () => {
              clearTimeout(timer);
              done();
            });
            child.kill("SIGTERM");
          }),
      });
    });
  });
}

function status(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(`/proc/${pid}/status`, "utf8").split("\n")) {
    const i = line.indexOf(":");
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

const kib = (v: string | undefined) => (v ? Number(v.split(/\s+/)[0]) * 1024 : 0);

/** RSS and peak RSS (VmHWM) of one process, bytes. */
export function rss(pid: number): { rss: number; hwm: number } {
  const s = status(pid);
  return { rss: kib(s.VmRSS), hwm: kib(s.VmHWM) };
}

/** Resets the process's VmHWM to its current RSS (Linux: clear_refs 5). */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/** pid and all its descendants. */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${out[i]}/task`);
    } catch {
      continue;
    }
    for (const tid of tasks) {
      try {
        for (const c of readFileSync(`/proc/${out[i]}/task/${tid}/children`, "utf8").trim().split(/\s+/)) if (c) out.push(Number(c));
      } catch {
        /* gone */
      }
    }
  }
  return out;
}

export function treeRss(pid: number): number {
  return processTree(pid).reduce((sum, p) => {
    try {
      return sum + rss(p).rss;
    } catch {
      return sum;
    }
  }, 0);
}

/** Runs a command to its end; resolves with its exit code, stdout and elapsed ms. */
export function run(cmd: string, args: string[], opts: { cwd?: string; input?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d) => (stdout += d));
    child.stderr!.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    if (child.stdin) {
      child.stdin.on("error", () => undefined);
      child.stdin.end(opts.input);
    }
  });
}
