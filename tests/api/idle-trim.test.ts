// A server left without sessions gives memory back after --idle-trim-ms: the
// isolate sandbox process, grown by sessions that are gone, is replaced by a fresh
// one (trimAboveMiB 0 here, so any growth counts), and sessions work as before.

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { after, describe, test } from "node:test";
import { createApp, type KilnApp } from "../../src/app.ts";
import { isolateKernelFactory, isolateUnavailableReason } from "../../src/kernels/isolate/index.ts";
import { Client, uniqueName } from "../helpers/client.ts";

/** Pids of this process's isolate sandbox children. */
function sandboxPids(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, "utf8");
      if (Number(/PPid:\s+(\d+)/.exec(status)?.[1]) !== process.pid) continue;
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes("isolate/child.ts")) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

/** Waits (bounded) until `check` holds; the bound is a hang guard, not a timing assertion. */
async function eventually(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const apps: KilnApp[] = [];
after(() => Promise.all(apps.splice(0).map((a) => a.close())));

function server(idleTrimMs: number): { app: KilnApp; client: Client } {
  const factory = isolateKernelFactory({ trimAboveMiB: 0 });
  assert.ok(factory, "isolated-vm must load: run with node --no-node-snapshot");
  const app = createApp({ config: { idleTrimMs, flushIntervalMs: 200 }, kernels: [factory] });
  apps.push(app);
  return { app, client: Client.forApp(app) };
}

async function useSession(client: Client): Promise<string> {
  const res = await client.createSession({ lang: "javascript", clientSessionToken: uniqueName("trim") });
  assert.equal(res.status, 201, res.text);
  const id = res.json.sessionId as string;
  const run = await client.query(id, "globalThis.junk = Array.from({ length: 1e5 }, (_, i) => ({ i })); console.log(junk.length)");
  assert.equal(run.stdout, "100000\n");
  return id;
}

// Bun runs tests/api too, where isolated-vm does not load; Node (CI) always has it.
const skip = process.platform !== "linux" ? "reads /proc" : (isolateUnavailableReason() ?? false);

describe("idle trim", { skip }, () => {
  test("the sandbox process is replaced once the last session has been gone for idleTrimMs, and sessions then work", async () => {
    const before = new Set(sandboxPids());
    const { client } = server(300);
    const id = await useSession(client);
    const [mine] = sandboxPids().filter((p) => !before.has(p));
    assert.ok(mine, "the app's sandbox process is running");
    await client.destroy(id);
    await eventually(() => !sandboxPids().includes(mine), "the grown sandbox process goes away");
    await eventually(() => sandboxPids().some((p) => !before.has(p) && p !== mine), "a fresh sandbox process takes its place");
    const again = await useSession(client);
    assert.equal((await client.destroy(again)).status, 200);
    await Promise.all(apps.splice(0).map((a) => a.close()));
  });

  test("nothing is replaced while a session lives, nor with idleTrimMs 0", async () => {
    const before = new Set(sandboxPids());
    const live = server(100);
    const off = server(0);
    const keep = await useSession(live.client);
    const gone = await useSession(off.client);
    await off.client.destroy(gone);
    const mine = sandboxPids().filter((p) => !before.has(p));
    assert.equal(mine.length, 2);
    // Both would have been replaced by now if they were going to be; a normal run proves the live one still serves.
    await new Promise((r) => setTimeout(r, 600));
    assert.deepEqual(sandboxPids().filter((p) => !before.has(p)).sort(), mine.sort());
    assert.equal((await live.client.query(keep, "console.log(junk.length)")).stdout, "100000\n");
  });
});
