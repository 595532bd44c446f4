// Upload names that try to leave /home/work or mean something else to another tool:
// .., absolute paths elsewhere, percent-encoded .. and /, backslashes, NUL and other
// control characters, 4,096-byte names, Unicode that normalises to "..". Each is a 400
// with nothing written (uploads are all or nothing), on both kinds (memory and disk files).

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { kinds, type Env } from "./harness.ts";

const BAD = [
  "../escape.txt",
  "a/../../escape.txt",
  "/etc/escape.txt",
  "/home/work/../escape.txt",
  "/home/workx/escape.txt",
  "%2e%2e/escape.txt",
  "%2E%2E%2Fescape.txt",
  "..%2fescape.txt",
  "%2fetc%2fescape.txt",
  "..\\escape.txt",
  "a\\..\\..\\escape.txt",
  "%5c..%5cescape.txt",
  "nul\u0000.txt",
  "nul%00.txt",
  "line%0Abreak.txt",
  "x".repeat(4096),
  "a/".repeat(2100) + "x",
  "\uFF0E\uFF0E/escape.txt", // fullwidth full stops: NFKC → ".."
  "\u2025/escape.txt", // two-dot leader: NFKC → ".."
  "%EF%BC%8E%EF%BC%8E/escape.txt",
  "a/\uFE52\uFE52/../../escape.txt", // small full stops
  "",
  "/home/work",
];

for (const k of await kinds()) {
  describe(`${k.kind}: hostile upload names`, { skip: k.skip }, () => {
    let env: Env;
    before(async () => (env = await k.start()));
    after(() => env?.close());

    it("are refused one by one and together with a good file, which is then not written either", async () => {
      const id = await env.session();
      for (const name of BAD) {
        // A quoted-string in the part header: backslashes and quotes travel escaped (RFC 7578).
        const filename = name.replace(/[\\"]/g, (c) => `\\${c}`);
        const alone = await env.client.upload(id, [{ filename, data: "x" }]);
        assert.equal(alone.status, 400, `${JSON.stringify(filename.slice(0, 60))}: ${alone.status} ${alone.text.slice(0, 200)}`);
        const mixed = await env.client.upload(id, [{ filename: "good.txt", data: "good" }, { filename, data: "x" }]);
        assert.equal(mixed.status, 400, `with a good file: ${JSON.stringify(filename.slice(0, 60))}`);
      }
      assert.deepEqual(await env.client.tree(id), [], "nothing was written");
      // Raw CR, LF or quotes in the header (not escaped) are malformed: refused, or cut to a plain name inside the session.
      for (const filename of ["a\rb", "a\nContent-Disposition: form-data; filename=\"../x\"", 'q"../../x']) {
        const res = await env.client.upload(id, [{ filename, data: "x" }]);
        assert.ok(res.status === 400 || res.status === 204, `raw ${JSON.stringify(filename)}: ${res.status}`);
      }
      for (const path of await env.client.tree(id)) assert.ok(!path.includes("..") || !path.split("/").includes(".."), path);
      const left = await env.client.tree(id);
      if (left.length) {
        if (env.kind === "podman") await env.run(id, "find . -mindepth 1 -delete");
        else await env.run(id, "const fs = require('fs'); for (const n of fs.readdirSync('.')) fs.rmSync(n, { recursive: true })");
      }
      for (const p of ["/escape.txt", "/home/escape.txt", "/etc/escape.txt", "/tmp/escape.txt"]) assert.ok(!existsSync(p), p);
      if (env.dataDir) assert.ok(!existsSync(`${env.dataDir}/escape.txt`));
      // Names that look odd but are plain names stay inside and round-trip.
      await env.client.put(id, { "%zz..txt": "a", "..ok": "b", "dir/./f.txt": "c", "/home/work/abs.txt": "d" });
      assert.deepEqual(await env.client.tree(id), ["%zz..txt", "..ok", "abs.txt", "dir/", "dir/f.txt"]);
      await env.healthy(id, "hostile upload names");
    });
  });
}
