// A run that forks a daemon (setsid, double fork, SIGTERM and SIGHUP ignored) and exits:
// the daemon dies with the step and cannot write into the session afterwards.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { kinds, leftovers, sleep, type Env } from "./harness.ts";

for (const k of await kinds(["podman"])) {
  describe(`${k.kind}: daemon child`, { skip: k.skip }, () => {
    let env: Env;
    before(async () => (env = await k.start()));
    after(() => env?.close());

    it("does not outlive its step", async () => {
      const id = await env.session();
      const log = await env.run(
        id,
        "(setsid bash -c 'trap \"\" TERM HUP INT; while :; do date +%s%N >> /home/work/beacon; sleep 0.1; done' </dev/null >/dev/null 2>&1 &) ; sleep 0.5; echo forked",
      );
      assert.equal(log.stdout, "forked\n");
      await sleep(300);
      const size = async () => (await env.client.readFile(id, "beacon")).length;
      const before = await size();
      await sleep(1000);
      assert.equal(await size(), before, "the beacon grows no more: the daemon is gone");
      assert.deepEqual(await leftovers(env, id), [], "no process is left");
      await env.healthy(id, "a daemon child");
    });
  });
}
