// A spin inside a signal handler that ignores SIGTERM: the step still ends at its limit
// (the runner escalates to SIGKILL), and nothing keeps spinning after it.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { kinds, leftovers, STEP_MS, type Env } from "./harness.ts";

const PYTHON = `
import os, signal
def handler(*_):
    while True:
        pass
signal.signal(signal.SIGTERM, handler)
signal.signal(signal.SIGINT, handler)
signal.signal(signal.SIGHUP, handler)
os.kill(os.getpid(), signal.SIGTERM)
`;

for (const k of await kinds(["podman"])) {
  describe(`${k.kind}: spin in a SIGTERM-ignoring handler`, { skip: k.skip }, () => {
    let env: Env;
    before(async () => (env = await k.start()));
    after(() => env?.close());

    it("bash trap '' TERM and a Python handler that spins both end at the limit", async () => {
      const id = await env.session(undefined, "python");
      for (const program of [
        "trap '' TERM INT HUP; while :; do :; done",
        `cat > spin.py <<'PY'\n${PYTHON}\nPY\npython3 spin.py`,
        // A Python child in the background, also spinning in its handler.
        `cat > spin.py <<'PY'\n${PYTHON}\nPY\npython3 spin.py & python3 spin.py`,
      ]) {
        const started = Date.now();
        const log = await env.run(id, program);
        assert.equal(log.final.status, "exec-timeout", program);
        assert.ok(Date.now() - started < STEP_MS + 8000, `took ${Date.now() - started} ms`);
        assert.deepEqual(await leftovers(env, id), [], `processes left after ${program}`);
      }
      await env.healthy(id, "SIGTERM-ignoring spins");
    });
  });
}
