// A program links to another session's directory by its host path (which the API
// could follow, were it naive): nothing of the other session is read or written.

import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseMixed, untar } from "../helpers/client.ts";
import { kinds, type Env } from "./harness.ts";

for (const k of await kinds(["podman"])) {
  describe(`${k.kind}: symlink to another session`, { skip: k.skip }, () => {
    let env: Env;
    before(async () => (env = await k.start()));
    after(() => env?.close());

    it("neither reads nor writes the other session's files", async () => {
      const victim = await env.session();
      await env.client.put(victim, { "secret.txt": "victim-secret\n" });
      const attacker = await env.session();
      const host = join(env.dataDir!, victim);
      const made = await env.run(attacker, `ln -s ${host} v; ln -s ${host}/secret.txt s; ln -s /proc/1/root/${host} p; echo ok`);
      assert.equal(made.stdout, "ok\n");

      for (const file of ["s", "v/secret.txt", "p/secret.txt"]) {
        const res = await env.client.downloadSingle(attacker, file);
        assert.ok(res.status === 400 || res.status === 404, `download_single ${file}: ${res.status}`);
      }
      const list = await env.client.listFiles(attacker, "v");
      assert.ok(list.status === 400 || list.status === 404, `files v: ${list.status}`);
      const dl = await env.client.get(`/session/${attacker}/download`, { query: { files: ["v", "s"] } });
      if (dl.status === 200) {
        for (const part of parseMixed(dl)) for (const e of await untar(part.body)) assert.ok(!new TextDecoder().decode(e.data).includes("victim-secret"));
      }
      const up = await env.client.upload(attacker, [{ filename: "v/planted.txt", data: "x" }]);
      assert.equal(up.status, 400, up.text);
      assert.deepEqual(readdirSync(host).filter((n) => !n.startsWith(".") && n !== "lost+found"), ["secret.txt"]);
      assert.ok(!existsSync(join(host, "planted.txt")));
      assert.equal(new TextDecoder().decode(await env.client.readFile(victim, "secret.txt")), "victim-secret\n");
      await env.healthy(attacker, "a symlink to another session");
    });
  });
}
