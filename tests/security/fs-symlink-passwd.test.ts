// A program makes symlinks to /etc/passwd, to / and to /etc; files, download,
// download_single and a later upload through them never follow them to the host
// (Judge0 CVE-2024-28185: host-side file operations on box contents must be no-follow).

import assert from "node:assert/strict";
import { readFileSync, existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { parseMixed, untar } from "../helpers/client.ts";
import { kinds, type Env } from "./harness.ts";

const HOST_PASSWD = readFileSync("/etc/passwd", "utf8");

for (const k of await kinds(["podman"])) {
  describe(`${k.kind}: symlink to /etc/passwd`, { skip: k.skip }, () => {
    let env: Env;
    before(async () => (env = await k.start()));
    after(() => env?.close());

    it("is listed as a link and never followed by the API", async () => {
      const id = await env.session();
      const made = await env.run(id, "ln -s /etc/passwd pw; ln -s / root; ln -s /etc etc; mkdir d; ln -s /etc/shadow d/sh; ln -s ../../../../etc/passwd rel; echo ok");
      assert.equal(made.stdout, "ok\n");

      const listing = await env.client.ls(id);
      for (const name of ["pw", "root", "etc", "rel"]) assert.ok(listing.get(name)?.mode.startsWith("l"), `${name} is listed as a link`);
      for (const path of ["root", "etc", "root/etc"]) {
        const res = await env.client.listFiles(id, path);
        assert.ok(res.status === 400 || res.status === 404, `files ${path}: ${res.status} ${res.text.slice(0, 200)}`);
      }
      for (const file of ["pw", "rel", "etc/passwd", "root/etc/passwd", "d/sh"]) {
        const res = await env.client.downloadSingle(id, file);
        assert.ok(res.status === 400 || res.status === 404, `download_single ${file}: ${res.status}`);
        assert.ok(!res.text.includes("root:"), "no host passwd content");
      }
      for (const files of [["pw"], ["root"], ["etc"], ["d"], ["."]]) {
        const res = await env.client.get(`/session/${id}/download`, { query: { files } });
        assert.ok([200, 400, 404].includes(res.status), `download ${files}: ${res.status}`);
        if (res.status !== 200) continue;
        for (const part of parseMixed(res)) {
          for (const entry of await untar(part.body)) {
            assert.ok(entry.type !== "file" || !new TextDecoder().decode(entry.data).includes("root:"), `download ${files}: ${entry.name} carries host content`);
          }
        }
      }
      const zip = await env.client.get(`/session/${id}/download`, { query: { files: ["."], format: "zip" } });
      assert.ok(!zip.text.includes("root:x:0"), "the zip carries no host passwd");

      // Uploads through the links are refused; the host's files are untouched.
      for (const filename of ["etc/kiln-owned", "root/tmp/kiln-owned", "pw", "d/sh"]) {
        const res = await env.client.upload(id, [{ filename, data: "owned\n" }]);
        assert.ok(res.status === 400 || res.status === 204, `upload ${filename}: ${res.status} ${res.text}`);
      }
      assert.equal(readFileSync("/etc/passwd", "utf8"), HOST_PASSWD);
      assert.ok(!existsSync("/etc/kiln-owned") && !existsSync("/tmp/kiln-owned"));
      // Where an upload replaced a link, it replaced the link itself, inside the session.
      const pw = await env.client.downloadSingle(id, "pw");
      if (pw.status === 200) assert.equal(pw.text, "owned\n");
      await env.healthy(id, "symlinks to /etc/passwd");
    });
  });
}
