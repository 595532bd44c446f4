// Millions of tiny files: the session's file count is bounded (--session-max-files),
// listing and download of a crowded directory stay answerable, and the session goes on.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { kinds, type Env } from "./harness.ts";

const MAX_FILES = 2000;
// Podman programs write to the session's own ext4, made with the file limit plus 64 spare inodes (src/vfs/disk.ts).
const BOUND = MAX_FILES + 64;

for (const k of await kinds()) {
  describe(`${k.kind}: millions of tiny files`, { skip: k.skip }, () => {
    let env: Env;
    before(async () => (env = await k.start({ config: { sessionMaxFiles: MAX_FILES } })));
    after(() => env?.close());

    it("stop at the session's file limit", async () => {
      const id = await env.session();
      const program =
        env.kind === "isolate"
          ? "const fs = require('fs'); let n = 0; try { for (; n < 1e6; n++) fs.writeFileSync('f' + n, ''); } catch (e) { console.log(e.code) } console.log(n)"
          : "mkdir d; cd d; i=0; while [ $i -lt 1000000 ]; do : > f$i 2>/dev/null || break; i=$((i+1)); done; echo $i";
      const log = await env.run(id, program);
      const made = Number(log.stdout.trim().split("\n").pop());
      assert.ok(made <= (env.kind === "isolate" ? MAX_FILES : BOUND), `made ${made} files, the limit is ${MAX_FILES} (${log.final.status})`);
      const list = await env.client.listFiles(id, env.kind === "isolate" ? "" : "d");
      assert.equal(list.status, 200, list.text.slice(0, 200));
      if (env.kind === "podman") await env.run(id, "rm -rf d");
      await env.healthy(id, "millions of tiny files");
    });
  });
}
