// A memory bomb ends its run with 137 (or a RangeError inside the isolate) and the
// server goes on. Isolate variants (Map growth, key explosion, buffers) are in
// tests/kernels/isolate-attacks.test.ts; this is the plain array bomb on both kinds.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { kinds, type Env } from "./harness.ts";

for (const k of await kinds()) {
  describe(`${k.kind}: memory bomb`, { skip: k.skip }, () => {
    let env: Env;
    before(async () => (env = await k.start()));
    after(() => env?.close());

    it("is killed at the session's memory limit", async () => {
      const id = await env.session({ resources: { mem: "128m" } }, env.kind === "podman" ? "python" : undefined);
      const program =
        env.kind === "isolate"
          ? "const hog = []; for (;;) hog.push(new Array(1e6).fill(Math.random()))"
          : "python3 -c \"hog = []\nwhile True: hog.append(bytearray(16 << 20))\"";
      const log = await env.run(id, program);
      assert.equal(log.final.status, "finished");
      if (env.kind === "podman") {
        assert.equal(log.final.exitCode, 137);
        assert.match(log.stderr, /memory limit exceeded/);
      } else {
        assert.ok(log.final.exitCode === 137 || /RangeError|memory/i.test(log.stderr), `${log.final.exitCode} ${log.stderr}`);
      }
      await env.healthy(id, "a memory bomb");
    });
  });
}
