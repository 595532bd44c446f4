// A symlink swapped in between upload validation and write: a program flips a
// directory and a link to a host directory as fast as it can while the client uploads
// through that directory. The host directory stays empty.

import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { kinds, tempDir, type Env } from "./harness.ts";

for (const k of await kinds(["podman"])) {
  describe(`${k.kind}: symlink race on upload`, { skip: k.skip }, () => {
    let env: Env;
    let outside: Awaited<ReturnType<typeof tempDir>>;
    before(async () => {
      env = await k.start({ config: { stepTimeoutMs: 6000 } });
      outside = await tempDir("kiln-race-outside-");
    });
    after(async () => {
      await env?.close();
      await outside?.remove();
    });

    it("never writes outside the session", async () => {
      const id = await env.session();
      const flipping = env.run(id, `end=$((SECONDS+4)); while [ $SECONDS -lt $end ]; do rm -rf d; mkdir -p d; rm -rf d; ln -sfn ${outside.path} d; done; echo flipped`);
      const statuses = new Map<number, number>();
      const deadline = Date.now() + 3500;
      let n = 0;
      while (Date.now() < deadline) {
        const res = await env.client.upload(id, [{ filename: `d/x${n++}.txt`, data: "race" }]);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        assert.ok(res.status < 500, `upload: ${res.status} ${res.text}`);
      }
      const log = await flipping;
      assert.equal(log.stdout, "flipped\n");
      assert.deepEqual(readdirSync(outside.path), [], `uploads ${JSON.stringify([...statuses])} wrote outside the session`);
      await env.healthy(id, "a symlink race");
    });
  });
}
