// Runs `kiln serve` (bin/kiln.js) as a child process for the crash tests, and finds
// what a server instance leaves on the host: containers, processes, session directories.

import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { fileURLToPath } from "node:url";
import { listContainers } from "../../src/kernels/podman/driver.ts";

const BIN = fileURLToPath(new URL("../../bin/kiln.js", import.meta.url));

export interface Served {
  wrapper: ChildProcess;
  url: string;
  /** The node process that serves (bin/kiln.js starts the TypeScript CLI as its child). */
  pid: number;
  instanceId: string;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export async function serve(dataDir: string, flags: string[] = []): Promise<Served> {
  const wrapper = spawn(process.execPath, [BIN, "serve", "--port", "0", "--data-dir", dataDir, ...flags], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, KILN_PORT: undefined, PORT: undefined },
  });
  let out = "";
  wrapper.stdout!.on("data", (d) => (out += d));
  wrapper.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => wrapper.on("exit", (code, signal) => resolve({ code, signal })));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`kiln serve did not start: ${out}`)), 60_000);
    const check = () => {
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    wrapper.stdout!.on("data", check);
    void exited.then(() => reject(new Error(`kiln serve exited: ${out}`)));
  });
  const pid = childrenOf(wrapper.pid!).find((p) => cmdline(p).includes("cli.ts"));
  if (!pid) throw new Error("no server process under bin/kiln.js");
  return { wrapper, url, pid, instanceId: instanceIdOf(pid), output: () => out, exited };
}

export function stat(pid: number): string[] {
  const s = readFileSync(`/proc/${pid}/stat`, "utf8");
  return s.slice(s.lastIndexOf(")") + 2).split(" ");
}

export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
  } catch {
    return "";
  }
}

export function alive(pid: number): boolean {
  try {
    return stat(pid)[0] !== "Z";
  } catch {
    return false;
  }
}

export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (Number(stat(Number(name))[1]) === pid) out.push(Number(name));
    } catch {
      // gone
    }
  }
  return out;
}

/** The instance id src/instance.ts gives a server process. */
export function instanceIdOf(pid: number): string {
  const host = hostname().replace(/[^A-Za-z0-9.]/g, "_").slice(0, 64) || "host";
  return `${host}-${pid}-${stat(pid)[19]}`;
}

export async function containersOf(instanceId: string): Promise<string[]> {
  return (await listContainers("kiln.instance")).filter((c) => c.labels["kiln.instance"] === instanceId).map((c) => c.name);
}

/** Host processes whose command line mentions one of `needles` (conmon of a container, the isolate sandbox child). */
export function processesMentioning(needles: string[]): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    const line = cmdline(Number(name));
    if (needles.some((n) => line.includes(n)) && alive(Number(name))) out.push(Number(name));
  }
  return out;
}

export async function until(what: string, ms: number, check: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
