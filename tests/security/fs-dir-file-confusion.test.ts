// A directory where a file is expected and the reverse: upload over a directory, upload
// beneath a file, download_single of a directory, files of a file. Clear 400s, no 500,
// nothing half-written; made by the client or by a program.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { kinds, type Env } from "./harness.ts";

for (const k of await kinds()) {
  describe(`${k.kind}: directory-vs-file confusion`, { skip: k.skip }, () => {
    let env: Env;
    before(async () => (env = await k.start()));
    after(() => env?.close());

    it("is a 400 every way round", async () => {
      const id = await env.session();
      await env.client.put(id, { "dir/inner.txt": "inner", "file.txt": "file" });
      const cases: Array<[string, () => Promise<{ status: number; text: string }>]> = [
        ["upload over a directory", () => env.client.upload(id, [{ filename: "dir", data: "x" }])],
        ["upload over a directory with a slash", () => env.client.upload(id, [{ filename: "dir/", data: "x" }])],
        ["upload beneath a file", () => env.client.upload(id, [{ filename: "file.txt/child", data: "x" }])],
        ["a file and a directory of one name in one upload", () => env.client.upload(id, [{ filename: "twin", data: "x" }, { filename: "twin/x", data: "y" }])],
        ["download_single of a directory", () => env.client.downloadSingle(id, "dir")],
        ["download_single beneath a file", () => env.client.downloadSingle(id, "file.txt/x")],
        ["files of a file", () => env.client.listFiles(id, "file.txt")],
      ];
      for (const [what, call] of cases) {
        const res = await call();
        assert.ok(res.status === 400 || res.status === 404, `${what}: ${res.status} ${res.text.slice(0, 200)}`);
      }
      assert.deepEqual(await env.client.tree(id), ["dir/", "dir/inner.txt", "file.txt"]);
      // The same, with the shapes swapped by a program between the client's calls.
      const swap = env.kind === "isolate"
        ? "const fs = require('fs'); fs.rmSync('dir', { recursive: true }); fs.writeFileSync('dir', 'now a file'); fs.rmSync('file.txt'); fs.mkdirSync('file.txt'); console.log('ok')"
        : "rm -r dir && echo 'now a file' > dir && rm file.txt && mkdir file.txt && echo ok";
      assert.equal((await env.run(id, swap)).stdout, "ok\n");
      assert.equal((await env.client.downloadSingle(id, "dir/inner.txt")).status >= 400, true);
      assert.equal((await env.client.upload(id, [{ filename: "dir/inner.txt", data: "x" }])).status, 400);
      assert.equal(new TextDecoder().decode(await env.client.readFile(id, "dir")), "now a file\n".slice(0, env.kind === "isolate" ? 10 : 11));
      await env.healthy(id, "directory-vs-file confusion");
    });
  });
}
