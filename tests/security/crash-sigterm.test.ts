// SIGTERM of a real `kiln serve` with requests in flight (a long execute, an upload, a
// download): each finishes or gets a clear answer (503 or its normal one), never a reset
// mid-answer; then every session, container and session directory is gone and the exit is 0.

import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { Client, uniqueName } from "../helpers/client.ts";
import { unavailable } from "../kernels/podman-env.ts";
import { alive, childrenOf, cmdline, containersOf, serve, type Served } from "./crash-helpers.ts";
import { sleep, tempDir } from "./harness.ts";

const skip = await unavailable(["bash"]);

describe("crash: SIGTERM with requests in flight", { skip }, () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let server: Served | undefined;
  before(async () => (data = await tempDir("kiln-sigterm-")));
  after(async () => {
    if (server && alive(server.wrapper.pid!)) server.wrapper.kill("SIGKILL");
    await data?.remove();
  });

  it("answers or refuses in-flight requests clearly, cleans up and exits 0", async () => {
    server = await serve(data.path, ["--flush-interval-ms", "5000", "--step-timeout-ms", "30000"]);
    const client = Client.forUrl(server.url);
    const ids: string[] = [];
    for (const lang of ["bash", "javascript"]) {
      const res = await client.createSession({ lang, clientSessionToken: uniqueName("term") });
      assert.equal(res.status, 201, res.text);
      ids.push(res.json.sessionId);
    }
    const [bash, js] = ids as [string, string];
    await client.put(bash, { "data.bin": new Uint8Array(512 * 1024).fill(7) });
    const containers = await containersOf(server.instanceId);
    const sandboxes = childrenOf(server.pid).filter((p) => cmdline(p).includes("isolate/child.ts"));

    // In flight when the signal comes: executes waiting for their step, and more requests.
    const inFlight = [
      client.execute(bash, { mode: "batch", runId: "slow", code: "", options: { exec: "sleep 3; echo slept" } }),
      client.execute(js, { mode: "query", runId: "slowjs", code: "await new Promise(r => setTimeout(r, 3000)); console.log('waited')" }),
      client.downloadSingle(bash, "data.bin"),
      client.info(bash),
    ].map((p) => p.then((r) => ({ status: r.status, text: r.text, bytes: r.bytes.length }), (e: unknown) => ({ status: -1, text: String(e), bytes: 0 })));
    await sleep(500);
    server.wrapper.kill("SIGTERM");
    // Requests that arrive during shutdown: refused with 503 or not accepted at all.
    const late = await client.get("/").then((r) => r.status, () => -1);
    const answers = await Promise.all(inFlight);
    for (const [i, a] of answers.entries()) {
      assert.ok(a.status === 200 || a.status === 503, `in-flight request ${i}: ${a.status} ${a.text.slice(0, 200)}`);
      if (a.status === 503) assert.match(a.text, /problem|shutting down|unavailable/i);
    }
    if (answers[2]!.status === 200) assert.equal(answers[2]!.bytes, 512 * 1024, "a download that started is complete");
    assert.ok([200, 503, -1].includes(late), `a request during shutdown: ${late}`);
    const exit = await server.exited;
    assert.deepEqual(exit, { code: 0, signal: null }, server.output());
    assert.deepEqual(await containersOf(server.instanceId), [], "the containers are removed");
    assert.ok(sandboxes.every((p) => !alive(p)), "the isolate sandbox process ended");
    assert.deepEqual(readdirSync(data.path).filter((n) => ids.some((id) => n.startsWith(id))), [], "the session directories are removed");
    assert.ok(containers.length >= 1);
  });
});
