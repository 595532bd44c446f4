// After a server is killed with SIGKILL, nothing of its sessions is left running:
// the next factory's start-up sweep removes the dead instance's containers, unmounts
// its session binds and deletes its state directory, and the next registry's sweep
// unmounts and deletes the sessions' filesystems in the data directory.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { createApp } from "../../src/app.ts";
import { listContainers, mountsUnder } from "../../src/kernels/podman/driver.ts";
import { loadPodmanKernels } from "../../src/kernels/podman/index.ts";
import { unavailable } from "./podman-env.ts";

const skip = await unavailable(["bash"]);
const CHILD = new URL("./podman-orphan-child.ts", import.meta.url).pathname;

describe("podman kernels: orphans", { skip }, () => {
  it("a SIGKILLed server's containers, mounts, state and session filesystems are gone after the next start", async () => {
    const stateDir = await mkdtemp(join(tmpdir(), "kiln-podman-state-"));
    const dataDir = await mkdtemp(join(tmpdir(), "kiln-podman-data-"));
    try {
      const child = spawn(process.execPath, ["--no-node-snapshot", "--import", "tsx", CHILD, stateDir, dataDir], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      const exited = new Promise<unknown>((resolve) => child.on("exit", resolve));
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout! }).once("line", resolve);
        child.once("exit", (code) => reject(new Error(`the child server exited (${code}) before it was ready`)));
      });
      const { instanceId, sessionId } = JSON.parse(line) as { instanceId: string; sessionId: string };
      const theirs = async () => (await listContainers("kiln.instance")).filter((c) => c.labels["kiln.instance"] === instanceId);
      assert.equal((await theirs()).length, 2, "the session's container and a warm one");
      const instanceDir = join(stateDir, instanceId);
      assert.ok(mountsUnder(instanceDir).length > 0, "the session's directory is bound into a slot");
      assert.ok(existsSync(join(dataDir, sessionId, "ready.txt")));
      const sessionDir = join(dataDir, sessionId);
      const image = join(dataDir, `${sessionId}.${instanceId}.img`);
      assert.deepEqual(mountsUnder(sessionDir), [sessionDir], "the session's filesystem is mounted");
      assert.ok(existsSync(image));

      child.kill("SIGKILL");
      await exited;

      const load = await loadPodmanKernels({ stateDir, poolSize: 0 });
      assert.ok(load.factory, load.reason ?? "");
      try {
        assert.deepEqual(await theirs(), []);
        assert.deepEqual(mountsUnder(instanceDir), []);
        assert.ok(!existsSync(instanceDir), "the dead instance's state directory is deleted");
        assert.ok(load.factory.status.swept.stateDirs.includes(instanceDir));
        // The session's files were never reached through the slot: they are still there.
        assert.ok(existsSync(join(dataDir, sessionId, "ready.txt")));
      } catch (error) {
        await load.factory.close();
        throw error;
      }
      // A server on the same data directory removes the dead one's session filesystems.
      const app = createApp({ config: { dataDir }, kernels: [load.factory] });
      try {
        assert.deepEqual(await app.registry.orphansSwept, [image]);
        assert.deepEqual(mountsUnder(dataDir), []);
        assert.deepEqual(readdirSync(dataDir), []);
      } finally {
        await app.close();
      }
    } finally {
      await rm(stateDir, { recursive: true, force: true });
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
