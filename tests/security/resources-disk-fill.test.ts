// Disk fill: /tmp (a size-limited tmpfs per container) and /home/work (the session's
// quota, --session-max-bytes). A full disk is an error inside the program, never the
// host's disk, and the session goes on. The isolate kernel's quota (an EDQUOT inside
// the program) is covered by tests/kernels/isolate-attacks.test.ts.

import assert from "node:assert/strict";
import { readFileSync, statfsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { kinds, type Env } from "./harness.ts";

const QUOTA = 24 * 1024 * 1024;
// The session filesystem holds the byte quota plus a block per allowed file: few files keep that close.
const MAX_FILES = 200;
// Plus what ext4 keeps back (2%) and its metadata (4 MiB): see imageBytes in src/vfs/disk.ts.
const BOUND_MIB = Math.ceil(((QUOTA + MAX_FILES * 4096) * 1.02) / 2 ** 20) + 6;

for (const k of await kinds(["podman"])) {
  describe(`${k.kind}: disk fill`, { skip: k.skip }, () => {
    let env: Env;
    before(async () => (env = await k.start({ config: { sessionMaxBytes: QUOTA, sessionMaxFiles: MAX_FILES } })));
    after(() => env?.close());

    it("/tmp, /var/tmp and /dev/shm are small private filesystems: filling them fails inside", async () => {
      const id = await env.session();
      const log = await env.run(
        id,
        "for d in /tmp /var/tmp /dev/shm; do head -c 200M /dev/zero > $d/fill 2>/dev/null && echo $d:filled || echo $d:full; rm -f $d/fill; done",
      );
      assert.equal(log.stdout, "/tmp:full\n/var/tmp:full\n/dev/shm:full\n");
      await env.healthy(id, "filling /tmp");
    });

    // The session directory is a filesystem of its own (a loop mount, src/vfs/disk.ts), so the quota
    // binds what programs write, not only the API's own writes.
    it("/home/work stops at the session quota (files under the file-size limit, many of them)", async () => {
      const id = await env.session();
      const mounted = readFileSync("/proc/self/mountinfo", "utf8").includes(` ${join(env.dataDir!, id)} `);
      assert.ok(mounted, "the podman session's directory is a mount of its own");
      const hostFree = statfsSync(env.dataDir!).bavail;
      // Four 12 MiB files: each under --ulimit fsize (16 MiB), together twice the 24 MiB quota.
      const log = await env.run(id, "for i in 1 2 3 4; do head -c 12M /dev/zero > f$i || echo f$i:refused; done; du -sm . | cut -f1");
      const used = Number(log.stdout.trim().split("\n").pop());
      assert.ok(used <= BOUND_MIB, `the session holds ${used} MiB, its quota is ${QUOTA / 2 ** 20} MiB (+ a block per file): ${log.stdout}`);
      assert.match(log.stdout, /refused/);
      assert.ok(statfsSync(env.dataDir!).bavail > hostFree - (QUOTA * 2) / statfsSync(env.dataDir!).bsize, "the host disk was not filled");
      await env.run(id, "rm -f f*");
      await env.healthy(id, "filling /home/work");
    });
  });
}
