// A fork bomb hits the container's pids limit (podman): the step ends at its time
// limit, nothing of the bomb survives it, and the session and server serve normally.
// (The isolate kernel has no fork: child_process is refused, see isolate-attacks.)

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { kinds, leftovers, type Env } from "./harness.ts";

for (const k of await kinds(["podman"])) {
  describe(`${k.kind}: fork bomb`, { skip: k.skip }, () => {
    let env: Env;
    before(async () => (env = await k.start()));
    after(() => env?.close());

    it("is contained by the pids limit and leaves no process behind", async () => {
      const id = await env.session();
      const started = Date.now();
      const log = await env.run(id, "bomb() { bomb | bomb & }; bomb; sleep 30");
      assert.ok(["exec-timeout", "finished"].includes(log.final.status), log.final.status);
      assert.ok(Date.now() - started < 15_000, "ended near the step limit");
      assert.deepEqual(await leftovers(env, id), [], "no process is left");
      await env.healthy(id, "a fork bomb");
    });
  });
}
