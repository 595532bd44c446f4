// The disk quota in podman sessions. Programs write into /home/work directly, so each
// session's directory is a filesystem of its own sized to the quota: a program that
// fills it gets "No space left on device" inside the container, its run ends with a
// non-zero exit code, and the session and the server carry on.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { mountsUnder } from "../../src/kernels/podman/driver.ts";
import { newSession, podmanEnv, unavailable, upload, uploadRequest, type PodmanEnv } from "./podman-env.ts";

const skip = await unavailable(["bash", "c"]);
const MiB = 1024 * 1024;
const MAX_BYTES = 32 * MiB;
const MAX_FILES = 2000;

const MANY_FILES = `#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(void) {
  char name[32];
  for (long i = 0; i < 5000000; i++) {
    snprintf(name, sizeof name, "many/%ld", i);
    int fd = open(name, O_CREAT | O_WRONLY, 0644);
    if (fd < 0) {
      perror(name);
      printf("%ld\\n", i);
      return 1;
    }
    close(fd);
  }
  return 0;
}
`;

describe("podman kernels: disk quota", { skip }, () => {
  let env: PodmanEnv;
  before(async () => {
    env = await podmanEnv({ config: { sessionMaxBytes: MAX_BYTES, sessionMaxFiles: MAX_FILES } });
  });
  after(() => env?.close());

  /** The server's answer to an upload into the session: 412 quota-exceeded when it is full. */
  async function uploadStatus(id: string): Promise<{ status: number; type: string }> {
    const res = await uploadRequest(env, id, { "more.txt": "more" });
    const body = res.status === 204 ? {} : ((await res.json()) as { type?: string });
    return { status: res.status, type: body.type ?? "" };
  }

  it("a program filling /home/work gets ENOSPC; the session, its uploads and the server carry on", async () => {
    const id = await newSession(env.client, "bash");
    const root = join(env.dataDir, id);
    assert.deepEqual(mountsUnder(root), [root], "the session directory is a filesystem of its own");
    assert.ok(readdirSync(env.dataDir).includes(`${id}.${env.factory.status.instanceId}.img`));

    const fill = await env.client.batch(id, { exec: "dd if=/dev/zero of=big bs=1M count=1000" });
    assert.equal(fill.final.status, "finished");
    assert.notEqual(fill.final.exitCode, 0);
    assert.match(fill.stderr, /No space left on device/);

    const next = await env.client.batch(id, { exec: "echo alive; stat -c %s big" });
    assert.equal(next.final.exitCode, 0, next.stderr);
    const [alive, size] = next.stdout.trim().split("\n");
    assert.equal(alive, "alive");
    assert.ok(Number(size) >= MAX_BYTES && Number(size) < MAX_BYTES + MAX_FILES * 4096 + 16 * MiB, `dd wrote ${size} bytes`);

    assert.deepEqual(await uploadStatus(id), { status: 412, type: "https://api.backend.ai/probs/quota-exceeded" });
    assert.equal((await env.client.batch(id, { exec: "rm big" })).final.exitCode, 0);
    await upload(env, id, { "more.txt": "more" });
    assert.equal((await env.client.batch(id, { exec: "cat more.txt" })).stdout, "more");
    await env.client.destroy(id);
  });

  it("a program making millions of files runs out of inodes at the quota's entries", async () => {
    const id = await newSession(env.client, "c");
    await upload(env, id, { "main.c": MANY_FILES });
    const log = await env.client.batch(id, { build: "*", exec: "mkdir many && ./main" });
    assert.equal(log.final.exitCode, 1, log.stderr);
    assert.match(log.stderr, /No space left on device/);
    const made = Number(log.stdout.trim());
    assert.ok(made >= MAX_FILES - 10 && made < MAX_FILES + 100, `${made} files made`);

    const next = await env.client.batch(id, { exec: "ls many | wc -l" });
    assert.equal(next.stdout, `${made}\n`);
    assert.equal((await uploadStatus(id)).status, 412);
    assert.equal((await env.client.batch(id, { exec: "rm -r many" })).final.exitCode, 0);
    await upload(env, id, { "more.txt": "more" });
    await env.client.destroy(id);
  });

  it("DELETE of a full session, mid-step with a file open, leaves no mount, image or directory", async () => {
    const id = await newSession(env.client, "bash");
    const fill = await env.client.batch(id, { exec: "dd if=/dev/zero of=big bs=1M count=1000 2>/dev/null; echo done" });
    assert.equal(fill.stdout, "done\n");
    const running = await env.client.exec(id, { mode: "batch", runId: null, code: "", options: { exec: "exec 3<big; sleep 60" } });
    assert.equal(running.status, "clean-finished");
    const res = await env.client.destroy(id);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(mountsUnder(join(env.dataDir, id)), []);
    assert.ok(!existsSync(join(env.dataDir, id)));
    assert.deepEqual(readdirSync(env.dataDir).filter((name) => name.startsWith(id)), []);
  });
});
