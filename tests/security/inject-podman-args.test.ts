// Container escapes through argument injection: session names, image names, environ
// keys and values, build and exec strings that look like podman flags or shell. Either
// the API refuses them, or they reach the program as plain data; the container always
// runs with its hardening flags (checked with podman inspect).

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { podman } from "../../src/kernels/podman/driver.ts";
import { uniqueName } from "../helpers/client.ts";
import { kinds, type Env } from "./harness.ts";

async function inspect(sessionId: string): Promise<any> {
  const ids = (await podman(["ps", "--filter", `label=kiln.session=${sessionId}`, "--format", "{{.ID}}"])).trim().split("\n").filter(Boolean);
  assert.equal(ids.length, 1, `one container for session ${sessionId}: ${ids}`);
  return JSON.parse(await podman(["inspect", ids[0]!]))[0];
}

function assertHardened(c: any, label: string): void {
  const hc = c.HostConfig;
  assert.equal(hc.Privileged, false, `${label}: privileged`);
  assert.equal(hc.NetworkMode, "none", `${label}: network`);
  assert.equal(hc.ReadonlyRootfs, true, `${label}: read-only root`);
  assert.ok((hc.CapDrop ?? []).length > 0 || (c.EffectiveCaps ?? []).length === 0, `${label}: caps`);
  assert.deepEqual(c.EffectiveCaps ?? [], [], `${label}: effective caps`);
  assert.ok((hc.SecurityOpt ?? []).some((o: string) => /no-new-privileges/.test(o)), `${label}: no-new-privileges ${hc.SecurityOpt}`);
  assert.ok(hc.PidsLimit > 0 && hc.PidsLimit <= 64, `${label}: pids ${hc.PidsLimit}`);
  assert.ok(hc.Memory > 0, `${label}: memory`);
  assert.equal(c.Config.User, "1000:1000", `${label}: user`);
  const binds = (c.Mounts ?? []).map((m: any) => m.Source);
  assert.ok(!binds.includes("/") && !binds.some((s: string) => s.startsWith("/etc") || s === "/var/run/docker.sock" || /podman\.sock/.test(s)), `${label}: mounts ${binds}`);
}

for (const k of await kinds(["podman"])) {
  describe(`${k.kind}: argument injection`, { skip: k.skip }, () => {
    let env: Env;
    before(async () => (env = await k.start()));
    after(() => env?.close());

    it("session and image names that look like shell or flags are refused", async () => {
      for (const name of ["c; rm -rf /", "--privileged", "-v/:/host", "$(touch /tmp/kiln-pwn)", "a`id`b", "x\n--privileged", "../../etc"]) {
        const res = await env.client.createSession({ lang: "bash", clientSessionToken: name });
        assert.equal(res.status, 400, `name ${JSON.stringify(name)}: ${res.status}`);
      }
      for (const image of ["c; rm -rf /", "--privileged", "bash --privileged", "-v=/:/host", "docker.io/library/alpine", "localhost/kiln-bash:latest --privileged", "bash\n", "$(id)"]) {
        const res = await env.client.createSession({ lang: image, clientSessionToken: uniqueName("img") });
        assert.ok(res.status === 400 || res.status === 404, `image ${JSON.stringify(image)}: ${res.status} ${res.text}`);
      }
      assert.ok(!existsSync("/tmp/kiln-pwn"));
    });

    it("environ keys with newlines or dashes are refused; values are passed literally", async () => {
      for (const key of ["A\nB", "--privileged", "-e", "A=B", "A B", "1A", ""]) {
        const res = await env.client.createSession({ lang: "bash", clientSessionToken: uniqueName("env"), config: { environ: { [key]: "x" } } });
        assert.equal(res.status, 400, `key ${JSON.stringify(key)}: ${res.status}`);
      }
      const values = { V1: "--privileged", V2: "x\n--volume=/:/host", V3: "$(touch /tmp/kiln-pwn)", V4: "a' ; id ; '", LD_PRELOAD: "/home/work/evil.so" };
      const id = await env.session({ environ: values });
      const log = await env.run(id, 'printf "%s|" "$V1" "$V2" "$V3" "$V4"; echo');
      assert.equal(log.stdout, `--privileged|x\n--volume=/:/host|$(touch /tmp/kiln-pwn)|a' ; id ; '|\n`);
      assert.ok(!existsSync("/tmp/kiln-pwn"));
      assertHardened(await inspect(id), "with hostile environ values");
      await env.healthy(id, "hostile environ values");
    });

    it("build and exec strings are run inside the container as the program, never as podman arguments", async () => {
      const id = await env.session();
      const flag = await env.client.batch(id, { exec: "--privileged" });
      // A leading "-" is the command's, never an option of bash or the runner (`bash -c -- CMD`, or
      // the words exec'd directly), so it is simply a command that does not exist.
      assert.equal(flag.final.exitCode, 127, `a flag-looking exec: ${flag.final.exitCode}`);
      assert.match(flag.stderr, /--privileged: command not found/);
      const log = await env.client.batch(id, {
        clean: "true --privileged --rm=false",
        build: "echo build-ran; exec 2>/dev/null; podman run --privileged -v /:/host x; docker ps; true",
        exec: "echo $(id -u); ls /host 2>/dev/null | wc -l; touch /etc/x 2>/dev/null || echo ro; cat /proc/1/status | grep CapEff | tr -d '\\t'",
      });
      assert.equal(log.final.status, "finished");
      assert.match(log.stdout, /build-ran\n/);
      assert.match(log.stdout, /1000\n0\nro\nCapEff:0000000000000000\n$/);
      assertHardened(await inspect(id), "after hostile commands");
      assert.ok(!existsSync("/tmp/kiln-pwn"));
      await env.healthy(id, "hostile build and exec strings");
    });
  });
}
