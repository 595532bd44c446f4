// A CPU spin is stopped at the step's wall-clock limit (exec-timeout); the session
// and the server serve normally afterwards.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { kinds, leftovers, STEP_MS, type Env } from "./harness.ts";

for (const k of await kinds()) {
  describe(`${k.kind}: CPU spin`, { skip: k.skip }, () => {
    let env: Env;
    before(async () => (env = await k.start()));
    after(() => env?.close());

    it("ends in exec-timeout near the step limit", async () => {
      const id = await env.session();
      const started = Date.now();
      const log = await env.run(id, env.kind === "isolate" ? "for (;;) {}" : "while :; do :; done");
      const took = Date.now() - started;
      assert.equal(log.final.status, "exec-timeout");
      assert.ok(took < STEP_MS + 5000, `took ${took} ms`);
      if (env.kind === "podman") {
      assert.deepEqual(await leftovers(env, id), [], "no process is left");
      }
      await env.healthy(id, "a CPU spin");
    });
  });
}
