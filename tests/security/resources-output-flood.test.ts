// Output flood on stdout and stderr together: capped per run with a marker, answers stay
// bounded, the server stays responsive. The isolate kernel's 10-second console.log loop is
// in tests/kernels/isolate-attacks.test.ts; here both streams at once, on both kinds.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { kinds, type Env } from "./harness.ts";

const OUTPUT = 256 * 1024;

for (const k of await kinds()) {
  describe(`${k.kind}: stdout and stderr flood`, { skip: k.skip }, () => {
    let env: Env;
    before(async () => (env = await k.start({ config: { runOutputMaxBytes: OUTPUT } })));
    after(() => env?.close());

    it("is cut at the run's output limit and the server answers meanwhile", async () => {
      const id = await env.session();
      const program =
        env.kind === "isolate"
          ? "const s = 'x'.repeat(8192); for (;;) { console.log(s); console.error(s) }"
          : "yes xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx & yes yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy >&2";
      const flood = env.run(id, program);
      // Meanwhile another request is served promptly.
      const started = Date.now();
      const info = await env.client.get("/");
      assert.equal(info.status, 200);
      assert.ok(Date.now() - started < 2000, `GET / took ${Date.now() - started} ms during the flood`);
      const log = await flood;
      assert.ok(["exec-timeout", "finished"].includes(log.final.status));
      const total = log.stdout.length + log.stderr.length;
      assert.ok(total < OUTPUT + 4096, `${total} characters came back, the limit is ${OUTPUT} bytes`);
      assert.ok(/output limit of \d+ bytes per run reached/.test(log.stdout + log.stderr), "the cut is marked");
      await env.healthy(id, "an output flood");
    });
  });
}
