// A real `kiln serve` for the client and CLI suites: bin/kiln.js in a child process on
// a free loopback port with a private data directory, as users run it. A separate
// process so the suites run the same under Node and Bun (which has no isolated-vm:
// the server is always Node).

import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const BIN = fileURLToPath(new URL("../../bin/kiln.js", import.meta.url));
/** Node, also when the suite runs under Bun. */
export const NODE = "Bun" in globalThis ? "node" : process.execPath;

export interface KilnServer {
  url: string;
  /** Everything the server printed. */
  output(): string;
  close(): Promise<void>;
}

export async function startKiln(args: string[] = [], env: Record<string, string> = {}): Promise<KilnServer> {
  const dataDir = await mkdtemp(join(tmpdir(), "kiln-client-test-"));
  const child = spawn(NODE, [BIN, "serve", "--port", "0", "--data-dir", dataDir, "--flush-interval-ms", "300", ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const check = () => {
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) resolve(match[1]!);
    };
    child.stdout!.on("data", check);
    void exited.then(() => reject(new Error(`kiln serve exited before listening:\n${output}`)));
  });
  return {
    url,
    output: () => output,
    async close() {
      await stop(child, exited);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

async function stop(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  await exited;
}
