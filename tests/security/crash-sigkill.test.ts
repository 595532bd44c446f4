// SIGKILL of a real `kiln serve` in the middle of runs (podman and isolate sessions):
// a new server on the same data directory leaves no container, runner process, sandbox
// process or session directory of the dead one, and serves normally.

import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { Client, uniqueName } from "../helpers/client.ts";
import { unavailable } from "../kernels/podman-env.ts";
import { alive, childrenOf, cmdline, containersOf, processesMentioning, serve, until, type Served } from "./crash-helpers.ts";
import { tempDir } from "./harness.ts";

const skip = await unavailable(["bash"]);

describe("crash: SIGKILL mid-run", { skip }, () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  const servers: Served[] = [];
  before(async () => (data = await tempDir("kiln-crash-")));
  after(async () => {
    for (const s of servers) if (alive(s.wrapper.pid!)) s.wrapper.kill("SIGTERM");
    await Promise.all(servers.map((s) => s.exited));
    await data?.remove();
  });

  it("leaves nothing of the dead instance once a new one has started", async () => {
    const flags = ["--flush-interval-ms", "300", "--step-timeout-ms", "30000"];
    const first = await serve(data.path, flags);
    servers.push(first);
    const client = Client.forUrl(first.url);
    const ids: string[] = [];
    for (const lang of ["bash", "bash", "javascript"]) {
      const res = await client.createSession({ lang, clientSessionToken: uniqueName("crash") });
      assert.equal(res.status, 201, res.text);
      ids.push(res.json.sessionId);
    }
    await client.put(ids[0]!, { "kept.txt": "x" });
    // Runs in flight: a sleeping step, a spinning step, a spinning isolate.
    await client.exec(ids[0]!, { mode: "batch", runId: "a", code: "", options: { exec: "sleep 120" } });
    await client.exec(ids[1]!, { mode: "batch", runId: "b", code: "", options: { exec: "while :; do :; done" } });
    await client.exec(ids[2]!, { mode: "query", runId: "c", code: "for (;;) {}" });

    const containers = await containersOf(first.instanceId);
    assert.ok(containers.length >= 2, `containers of the first instance: ${containers}`);
    const sandboxes = childrenOf(first.pid).filter((p) => cmdline(p).includes("isolate/child.ts"));
    assert.ok(sandboxes.length >= 1, "the isolate sandbox process runs");
    const dirs = ids.filter((id) => existsSync(`${data.path}/${id}`));
    assert.ok(dirs.length >= 2, "the podman sessions have directories");

    process.kill(first.pid, "SIGKILL");
    first.wrapper.kill("SIGKILL");
    await first.exited;

    const second = await serve(data.path, flags);
    servers.push(second);
    await until("the dead instance's containers are removed", 30_000, async () => (await containersOf(first.instanceId)).length === 0);
    await until("the dead server's sandbox process ends", 10_000, () => sandboxes.every((p) => !alive(p)));
    await until("no conmon or runner of the dead containers is left", 10_000, () => processesMentioning(containers).length === 0);
    await until("the dead instance's session directories are removed", 10_000, () => ids.every((id) => !readdirSync(data.path).some((n) => n.startsWith(id))));

    const fresh = Client.forUrl(second.url);
    for (const id of ids) assert.equal((await fresh.info(id)).status, 404, "the dead server's sessions are not served");
    for (const [lang, program] of [["bash", "echo $((6 * 7))"], ["javascript", ""]] as const) {
      const res = await fresh.createSession({ lang, clientSessionToken: uniqueName("after") });
      assert.equal(res.status, 201, res.text);
      const log = lang === "bash" ? await fresh.batch(res.json.sessionId, { exec: program }) : await fresh.query(res.json.sessionId, "console.log(6 * 7)");
      assert.equal(log.stdout, "42\n");
    }
    second.wrapper.kill("SIGTERM");
    assert.deepEqual(await second.exited, { code: 0, signal: null });
    assert.deepEqual(await containersOf(second.instanceId), []);
  });
});
