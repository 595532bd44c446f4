// Shared set-up of the security suite: one app per kernel kind (isolate, podman)
// with small limits, a "normal run" check for after every attack, and a way to run
// a payload (JavaScript for the isolate kernel, a bash script for podman).
// Not a test file: the payloads are tests/security/<area>-<attack>.test.ts.

import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp, type KilnApp } from "../../src/app.ts";
import type { KilnConfigInput } from "../../src/config.ts";
import { isolateKernelFactory } from "../../src/kernels/isolate/index.ts";
import type { PodmanKernelOptions } from "../../src/kernels/podman/index.ts";
import { Client, uniqueName, type RunLog } from "../helpers/client.ts";
import { podmanEnv, unavailable } from "../kernels/podman-env.ts";

export const STEP_MS = 3000;

export interface Env {
  kind: "isolate" | "podman";
  app: KilnApp;
  client: Client;
  lang: string;
  dataDir: string | undefined;
  /** A fresh session (asserts 201). */
  session(config?: Record<string, unknown>, lang?: string): Promise<string>;
  /** Runs a payload: JavaScript as a query (isolate) or a bash script as a batch exec (podman). */
  run(id: string, program: string): Promise<RunLog>;
  /** A normal run in `id` and in a brand-new session gives the normal answer. */
  healthy(id: string, label: string): Promise<void>;
  close(): Promise<void>;
}

export interface Options {
  config?: Partial<KilnConfigInput>;
  podman?: PodmanKernelOptions;
}

const SMALL: Partial<KilnConfigInput> = { flushIntervalMs: 200, stepTimeoutMs: STEP_MS };

export async function isolateEnv(options: Options = {}): Promise<Env> {
  const factory = isolateKernelFactory({ defaults: { stepTimeoutMs: STEP_MS } });
  assert.ok(factory, "isolated-vm must load: run with node --no-node-snapshot");
  const app = createApp({ config: { ...SMALL, ...options.config }, kernels: [factory] });
  return finish("isolate", app, "javascript", undefined, () => app.close());
}

export async function podmanSecurityEnv(options: Options = {}): Promise<Env> {
  const env = await podmanEnv({
    config: { ...SMALL, ...options.config },
    factory: { poolSize: 0, pidsLimit: 64, tmpMiB: 16, fileSizeMiB: 16, outputCapBytes: 1 << 20, languages: ["bash", "c", "python"], ...options.podman },
  });
  return finish("podman", env.app, "bash", env.dataDir, () => env.close());
}

function finish(kind: Env["kind"], app: KilnApp, lang: string, dataDir: string | undefined, close: () => Promise<void>): Env {
  const client = Client.forApp(app);
  const env: Env = {
    kind,
    app,
    client,
    lang,
    dataDir,
    async session(config, as = lang) {
      const res = await client.createSession({ lang: as, clientSessionToken: uniqueName(kind), ...(config ? { config } : {}) });
      assert.equal(res.status, 201, `create ${as}: ${res.status} ${res.text}`);
      return res.json.sessionId as string;
    },
    run(id, program) {
      return kind === "isolate" ? client.query(id, program) : client.batch(id, { exec: program });
    },
    async healthy(id, label) {
      const check = async (sid: string, what: string) => {
        const log = await env.run(sid, kind === "isolate" ? "console.log(6 * 7)" : "echo $((6 * 7))");
        assert.deepEqual([log.final.status, log.final.exitCode, log.stdout], ["finished", 0, "42\n"], `a normal run ${what} after ${label}: ${log.stderr}`);
      };
      await check(id, "in the attacked session");
      const fresh = await env.session();
      await check(fresh, "in a fresh session");
      assert.equal((await client.destroy(fresh)).status, 200);
    },
    close,
  };
  return env;
}

/** The kernel kinds a payload applies to, each with its skip reason (podman skips without podman). */
export async function kinds(which: ReadonlyArray<Env["kind"]> = ["isolate", "podman"]) {
  const out: Array<{ kind: Env["kind"]; skip: string | false; start: (o?: Options) => Promise<Env> }> = [];
  if (which.includes("isolate")) out.push({ kind: "isolate", skip: false, start: isolateEnv });
  if (which.includes("podman")) out.push({ kind: "podman", skip: await unavailable(["bash", "c", "python"]), start: podmanSecurityEnv });
  return out;
}

/** The command names of the processes in a podman session's container, besides the runner and the asking step's bash. */
export async function leftovers(env: Env, id: string): Promise<string[]> {
  // Builtins only: a fork for the check would count itself.
  const log = await env.run(id, "for p in /proc/[0-9]*; do read -r c < $p/comm 2>/dev/null && echo \"$c\"; done");
  const names = log.stdout.split("\n").filter(Boolean);
  const bash = names.indexOf("bash");
  if (bash >= 0) names.splice(bash, 1);
  return names.filter((n) => n !== "runner");
}

export async function tempDir(prefix: string): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]);
}
