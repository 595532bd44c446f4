// Special files a program can make without privileges: a FIFO (whose open(2) blocks
// until a writer comes), a Unix socket, a hard link. files, download, download_single and
// uploads over them answer promptly (the server's file threads are not wedged), never with
// data from elsewhere, and the server goes on.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { assertProblem, parseMixed, untar } from "../helpers/client.ts";
import { kinds, within, type Env } from "./harness.ts";

for (const k of await kinds(["podman"])) {
  describe(`${k.kind}: FIFOs, sockets and hard links made by a program`, { skip: k.skip }, () => {
    let env: Env;
    before(async () => (env = await k.start()));
    after(() => env?.close());

    it("never block or mislead the file routes", async () => {
      const id = await env.session(undefined, "python");
      const made = await env.run(
        id,
        [
          "mkfifo fifo; mkdir d; mkfifo d/fifo; echo data > d/real.txt",
          "python3 -c \"import socket; s = socket.socket(socket.AF_UNIX); s.bind('sock')\"",
          "ln /etc/passwd hard 2>/dev/null && echo hard:linked || echo hard:refused",
          "echo ok",
        ].join("; "),
      );
      assert.match(made.stdout, /hard:refused\nok\n$/);
      // Many at once: more than libuv's four file threads.
      const calls = [];
      for (let i = 0; i < 8; i++) {
        calls.push(env.client.downloadSingle(id, "fifo"));
        calls.push(env.client.downloadSingle(id, "sock"));
        calls.push(env.client.get(`/session/${id}/download`, { query: { files: ["d"] } }));
        calls.push(env.client.get(`/session/${id}/download`, { query: { files: ["fifo"], format: "zip" } }));
      }
      const answers = await within(Promise.all(calls), 15_000, "file routes over a FIFO");
      for (const res of answers) assert.ok(res.status === 200 || res.status === 400 || res.status === 404, `${res.status} ${res.text.slice(0, 200)}`);
      assert.equal((await within(env.client.listFiles(id), 5000, "files")).status, 200);
      // The archive of the directory holds its regular file, whole, and leaves the FIFO out.
      const tar = await env.client.get(`/session/${id}/download`, { query: { files: ["d"] } });
      assert.equal(tar.status, 200);
      const entries = await untar(parseMixed(tar)[0]!.body);
      assert.deepEqual(entries.map((e) => e.name).sort(), ["d/", "d/real.txt"]);
      assertProblem(await env.client.downloadSingle(id, "fifo"), 400, "invalid-api-params", { msg: "not a regular file" });
      const up = await within(env.client.upload(id, [{ filename: "fifo", data: "x" }]), 5000, "upload over a FIFO");
      assert.ok(up.status === 204 || up.status === 400, `upload over a FIFO: ${up.status}`);
      const real = await env.client.readFile(id, "d/real.txt");
      assert.equal(new TextDecoder().decode(real), "data\n");
      await env.healthy(id, "FIFOs and sockets");
    });
  });
}
