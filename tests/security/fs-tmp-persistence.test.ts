// Files left in /tmp, /dev/shm, /var/tmp and /run/lock by one session are invisible to
// another (Piston's file_persistance.py; isolate 2.6's shared /dev/shm), and do not
// survive the session either.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { kinds, type Env } from "./harness.ts";

const DIRS = ["/tmp", "/dev/shm", "/var/tmp", "/run/lock", "/home/work"];

for (const k of await kinds(["podman"])) {
  describe(`${k.kind}: files left in temporary directories`, { skip: k.skip }, () => {
    let env: Env;
    before(async () => (env = await k.start()));
    after(() => env?.close());

    it("are not seen by another session", async () => {
      const a = await env.session();
      const write = await env.run(a, DIRS.map((d) => `echo left > ${d}/kiln-left 2>/dev/null && echo ${d}:written || echo ${d}:refused`).join("; "));
      assert.match(write.stdout, /\/tmp:written/);
      const b = await env.session();
      const look = await env.run(b, `find / -xdev -name 'kiln-left*' 2>/dev/null | wc -l; for d in ${DIRS.join(" ")}; do cat $d/kiln-left 2>/dev/null; done; echo end`);
      assert.equal(look.stdout, "0\nend\n", `session B sees: ${look.stdout}`);
      // A's own files are still there for A (the attack is not just that writes failed).
      assert.match((await env.run(a, "cat /tmp/kiln-left")).stdout, /left/);
      await env.client.destroy(a);
      const c = await env.session();
      assert.equal((await env.run(c, "ls -A /tmp /dev/shm /var/tmp | grep -c kiln-left || true")).stdout, "0\n");
      await env.healthy(b, "files left in /tmp");
    });
  });
}
