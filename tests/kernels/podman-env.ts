// Shared set-up of the podman kernel suites: whether podman and the images are here
// (skip with a one-line reason, or fail under KILN_REQUIRE_PODMAN=1), an app over a
// podman factory driven in-process, and small helpers for sessions, uploads and runs.

import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createApp, type KilnApp } from "../../src/app.ts";
import type { KilnConfigInput } from "../../src/config.ts";
import { checkPodman, loadPodmanKernels, type PodmanKernelFactory, type PodmanKernelOptions } from "../../src/kernels/podman/index.ts";
import { Client, uniqueName, type RunLog } from "../helpers/client.ts";

export const REQUIRE_PODMAN = process.env.KILN_REQUIRE_PODMAN === "1";

/**
 * Why these languages can't be tested here, or false. Under KILN_REQUIRE_PODMAN=1 a
 * missing podman or image registers a failing test instead of skipping quietly.
 */
export async function unavailable(languages: readonly string[]): Promise<string | false> {
  const check = await checkPodman();
  const missing = languages.filter((l) => !check.present.includes(l));
  let reason: string | false = false;
  if (!check.ok) reason = `podman kernels unavailable: ${check.reason}`;
  else if (missing.length) reason = `podman images missing: ${missing.join(", ")} (npm run images)`;
  if (reason && REQUIRE_PODMAN) {
    test("podman kernels are available (KILN_REQUIRE_PODMAN=1)", () => assert.fail(reason as string));
  }
  return reason;
}

export interface PodmanEnv {
  app: KilnApp;
  client: Client;
  factory: PodmanKernelFactory;
  dataDir: string;
  stateDir: string;
  close(): Promise<void>;
}

export async function podmanEnv(options: { config?: Partial<KilnConfigInput>; factory?: PodmanKernelOptions } = {}): Promise<PodmanEnv> {
  const dataDir = await mkdtemp(join(tmpdir(), "kiln-podman-data-"));
  const stateDir = await mkdtemp(join(tmpdir(), "kiln-podman-state-"));
  const load = await loadPodmanKernels({ stateDir, ...options.factory });
  if (!load.factory) throw new Error(load.reason);
  const app = createApp({ config: { dataDir, flushIntervalMs: 200, stepTimeoutMs: 60_000, ...options.config }, kernels: [load.factory] });
  return {
    app,
    client: Client.forApp(app),
    factory: load.factory,
    dataDir,
    stateDir,
    async close() {
      try {
        await app.close();
      } finally {
        await rm(dataDir, { recursive: true, force: true });
        await rm(stateDir, { recursive: true, force: true });
      }
    },
  };
}

/** Creates a session of a language (asserts 201) and returns its id. */
export async function newSession(client: Client, lang: string, config?: Record<string, unknown>): Promise<string> {
  const res = await client.createSession({ lang, clientSessionToken: uniqueName(lang), ...(config ? { config } : {}) });
  assert.equal(res.status, 201, `create ${lang} session: ${res.status} ${res.text}`);
  return res.json.sessionId as string;
}

/** Uploads files as multipart/form-data built with FormData; the server's answer. */
export async function uploadRequest(env: PodmanEnv, id: string, files: Record<string, string | Uint8Array>): Promise<Response> {
  const form = new FormData();
  for (const [name, data] of Object.entries(files)) form.append("src", new Blob([typeof data === "string" ? data : new Uint8Array(data)]), name);
  return env.app.fetch(new Request(`http://kiln/session/${id}/upload`, { method: "POST", body: form }));
}

/** Uploads files (asserts 204). */
export async function upload(env: PodmanEnv, id: string, files: Record<string, string | Uint8Array>): Promise<void> {
  const res = await uploadRequest(env, id, files);
  assert.equal(res.status, 204, `upload ${Object.keys(files).join(", ")}: ${res.status} ${await res.text()}`);
}

/** Empties the session's directory, so one session serves several tests. */
export async function reset(client: Client, id: string): Promise<void> {
  const log = await client.batch(id, { exec: "find . -mindepth 1 -delete" });
  assert.equal(log.final.exitCode, 0, log.stderr);
}

/** A batch run's exit codes: [clean, build, exec]. */
export function exitCodes(log: RunLog): Array<number | null> {
  return log.results.filter((r) => r.status !== "continued" && r.status !== "waiting-input").map((r) => r.exitCode);
}

/** The bytes the "output file" programs write: (i * 31 + 7) mod 256 for i < n. */
export function pattern(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + 7) & 0xff;
  return out;
}
