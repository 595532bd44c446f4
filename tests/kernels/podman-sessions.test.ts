// Podman sessions beyond one language's programs: limits surfacing as results
// (timeout, OOM, fork bomb, output cap), the container's hardening, isolation between
// sessions, Python's persistent query state, restart, interrupt, DELETE, and the warm pool.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { listContainers } from "../../src/kernels/podman/driver.ts";
import { newSession, podmanEnv, unavailable, upload, type PodmanEnv } from "./podman-env.ts";

const skip = await unavailable(["bash", "c", "python"]);
const STEP_TIMEOUT_MS = 4000;
const OUTPUT_CAP = 1 << 20;

describe("podman kernels: sessions", { skip }, () => {
  let env: PodmanEnv;
  before(async () => {
    env = await podmanEnv({
      config: { stepTimeoutMs: STEP_TIMEOUT_MS, consoleCapChars: 4_000_000 },
      factory: { outputCapBytes: OUTPUT_CAP, pidsLimit: 128 },
    });
  });
  after(() => env?.close());

  describe("limits", () => {
    let bash: string;
    before(async () => {
      bash = await newSession(env.client, "bash");
    });

    it("a step past its time limit ends in exec-timeout, its processes killed, the session usable", async () => {
      const started = Date.now();
      const log = await env.client.batch(bash, { exec: "echo going; sleep 60" });
      assert.equal(log.final.status, "exec-timeout");
      assert.ok(Date.now() - started < STEP_TIMEOUT_MS + 3000, "stopped near the limit");
      assert.equal(log.stdout, "going\n");
      const next = await env.client.batch(bash, { exec: "echo alive; cat /proc/[0-9]*/comm | grep -c '^sleep$' || true" });
      assert.equal(next.final.exitCode, 0, next.stderr);
      assert.equal(next.stdout, "alive\n0\n");
    });

    it("background processes do not outlive their step", async () => {
      const first = await env.client.batch(bash, { exec: "(sleep 60 &); (setsid sleep 60 &); echo started" });
      assert.equal(first.final.exitCode, 0);
      const next = await env.client.batch(bash, { exec: "cat /proc/[0-9]*/comm | grep -c '^sleep$' || true" });
      assert.equal(next.stdout, "0\n");
    });

    it("an interrupt ends the running step with 130 and keeps the session", async () => {
      const first = await env.client.exec(bash, { mode: "batch", runId: null, code: "", options: { exec: "sleep 60" } });
      assert.equal(first.status, "clean-finished");
      const res = await env.client.interrupt(bash);
      assert.equal(res.status, 204, res.text);
      let result = first;
      while (result.status !== "finished") result = await env.client.exec(bash, { mode: "continue", runId: first.runId, code: "" });
      assert.equal(result.exitCode, 130);
      const next = await env.client.batch(bash, { exec: "echo ok" });
      assert.equal(next.stdout, "ok\n");
    });

    it("output past the cap is cut with a marker", async () => {
      const log = await env.client.batch(bash, { exec: "head -c 3000000 /dev/zero | tr '\\0' x" });
      assert.equal(log.final.exitCode, 0);
      assert.ok(log.stdout.startsWith("x".repeat(1000)));
      assert.ok(log.stdout.includes(`[kiln: output truncated after ${OUTPUT_CAP} bytes]`), log.stdout.slice(-200));
      assert.ok(log.stdout.length < OUTPUT_CAP + 200);
    });

    it("a fork bomb is contained by the pids limit and the session stays usable", async () => {
      const c = await newSession(env.client, "c");
      await upload(env, c, { "main.c": "#include <unistd.h>\nint main(void) { for (;;) fork(); }\n" });
      const log = await env.client.batch(c, { build: "*", exec: "*" });
      assert.equal(log.final.status, "exec-timeout");
      const next = await env.client.batch(c, {
        exec: "echo alive; ls -d /proc/[0-9]* | wc -l; cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max",
      });
      assert.equal(next.final.exitCode, 0, next.stderr);
      const [alive, processes, max] = next.stdout.trim().split("\n");
      assert.equal(alive, "alive");
      assert.ok(Number(processes) < 10, `processes left: ${processes}`);
      assert.equal(max, "128");
      await env.client.destroy(c);
    });

    it("an OOM kill is exit code 137 with 'memory limit exceeded', and the session lives on", async () => {
      const py = await newSession(env.client, "python", { resources: { mem: "128m" } });
      const log = await env.client.batch(py, { exec: "python3 -c \"b = b'x' * (512 * 1024 * 1024)\"" });
      assert.equal(log.final.exitCode, 137);
      assert.match(log.stderr, /memory limit exceeded/);
      const next = await env.client.batch(py, { exec: "echo ok; cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max" });
      assert.equal(next.stdout, `ok\n${128 * 1024 * 1024}\n`);

      // In query mode the interpreter itself dies: its state goes, the next query gets a fresh one.
      const query = await env.client.query(py, "x = 1\nhog = 'a' * (512 * 1024 * 1024)");
      assert.equal(query.final.exitCode, 137);
      assert.match(query.stderr, /memory limit exceeded/);
      const after = await env.client.query(py, "print('fresh', 'x' in globals())");
      assert.equal(after.stdout, "fresh False\n");
      await env.client.destroy(py);
    });
  });

  describe("hardening and isolation", () => {
    it("runs as work (1000:1000) with Backend.AI's environment plus config.environ", async () => {
      const id = await newSession(env.client, "bash", { environ: { GREETING: "hi there", LANG: "C.UTF-8" } });
      const log = await env.client.batch(id, { exec: 'echo "$(id -u):$(id -g)|$GREETING|$HOME|$USER|$LANG|$TERM|$SHELL|$PWD"' });
      assert.equal(log.stdout, "1000:1000|hi there|/home/work|work|C.UTF-8|xterm|/bin/bash|/home/work\n");
      await env.client.destroy(id);
    });

    it("no network, no capabilities, a read-only root, a sealed runner directory, an unkillable runner", async () => {
      const id = await newSession(env.client, "bash");
      const script = [
        "ls /sys/class/net | tr '\\n' ' '; echo",
        "grep CapEff /proc/self/status | tr -d '\\t'",
        "touch /etc/x 2>/dev/null && echo root-writable || echo root-read-only",
        "touch /run/kiln/x 2>/dev/null && echo runner-dir-writable || echo runner-dir-sealed",
        "ls /proc/1/fd >/dev/null 2>&1 && echo runner-fds-visible || echo runner-fds-hidden",
        "(exec 3<>/dev/tcp/1.1.1.1/80) 2>/dev/null && echo network || echo no-network",
        "kill -9 1 2>/dev/null; kill -9 -1 2>/dev/null; echo still-here",
      ].join("\n");
      const log = await env.client.batch(id, { exec: script });
      assert.equal(log.stdout, "lo \nCapEff:0000000000000000\nroot-read-only\nrunner-dir-sealed\nrunner-fds-hidden\nno-network\nstill-here\n");
      const next = await env.client.batch(id, { exec: "echo runner-alive" });
      assert.equal(next.stdout, "runner-alive\n");
      await env.client.destroy(id);
    });

    it("two sessions see neither each other's files nor each other's processes", async () => {
      const a = await newSession(env.client, "bash");
      const b = await newSession(env.client, "bash");
      const suffix = Math.random().toString(36).slice(2);
      const marker = `kiln-marker-${suffix}`;
      // The bracket keeps grep (and B's script) from matching themselves.
      const count = `grep -l 'kiln-[m]arker-${suffix}' /proc/[0-9]*/cmdline 2>/dev/null | wc -l`;
      const setup = await env.client.batch(a, { exec: `echo secret > secret-a.txt; echo secret > /tmp/secret-a; (exec -a ${marker} sleep 1) & sleep 0.3; ${count}; wait` });
      assert.ok(Number(setup.stdout) >= 1, `the marker process is visible in its own session: ${setup.stdout}`);

      // A's marker process runs while B looks around.
      const running = await env.client.exec(a, { mode: "batch", runId: null, code: "", options: { exec: `exec -a ${marker} sleep 2` } });
      const look = await env.client.batch(b, { exec: `${count}; ls -A /home/work | wc -l; ls -A /tmp | wc -l; find / -xdev -name 'secret-a*' 2>/dev/null | wc -l` });
      assert.equal(look.stdout, "0\n0\n0\n0\n");
      assert.deepEqual([...(await env.client.ls(b)).keys()], []);
      let result = running;
      while (result.status !== "finished") result = await env.client.exec(a, { mode: "continue", runId: running.runId, code: "" });
      await env.client.destroy(a);
      await env.client.destroy(b);
    });
  });

  describe("python query mode", () => {
    let py: string;
    before(async () => {
      py = await newSession(env.client, "python");
    });

    it("keeps one interpreter: state survives between runs, a final expression is echoed", async () => {
      const first = await env.client.query(py, "import math\ncounter = 40");
      assert.equal(first.final.exitCode, 0, first.stderr);
      assert.equal(first.stdout, "");
      const second = await env.client.query(py, "counter += 2\nmath.sqrt(counter * counter)");
      assert.equal(second.stdout, "42.0\n");
    });

    it("input() and getpass() ask through waiting-input", async () => {
      const log = await env.client.query(py, "import getpass\nname = input('name? ')\npw = getpass.getpass('pw: ')\nprint(name, len(pw))", {
        inputs: ["Zoë", "s3cret"],
      });
      const waits = log.results.filter((r) => r.status === "waiting-input").map((r) => r.options);
      assert.deepEqual(waits, [{ is_password: false }, { is_password: true }]);
      assert.equal(log.stdout, "name? pw: Zoë 6\n");
    });

    it("a read of sys.stdin asks through waiting-input too", async () => {
      const log = await env.client.query(py, "import sys\nline = sys.stdin.readline()\nprint('got', line.strip())", { inputs: ["línea"] });
      assert.deepEqual(
        log.results.filter((r) => r.status === "waiting-input").map((r) => r.options),
        [{ is_password: false }],
      );
      assert.equal(log.stdout, "got línea\n");
    });

    it("an exception is a traceback on stderr and exit code 1; state is kept", async () => {
      const log = await env.client.query(py, "counter = 7\n1 / 0");
      assert.equal(log.final.exitCode, 1);
      assert.match(log.stderr, /ZeroDivisionError: division by zero/);
      assert.doesNotMatch(log.stderr, /repl\.py/);
      assert.equal((await env.client.query(py, "counter")).stdout, "7\n");
    });

    it("an interrupt stops the running code with KeyboardInterrupt and keeps the interpreter", async () => {
      await env.client.query(py, "kept_through_interrupt = 'yes'");
      const first = await env.client.exec(py, { mode: "query", runId: null, code: "import time\ntime.sleep(60)" });
      assert.equal(first.status, "continued");
      assert.equal((await env.client.interrupt(py)).status, 204);
      let result = first;
      let stderr = "";
      while (result.status !== "finished") {
        result = await env.client.exec(py, { mode: "continue", runId: first.runId, code: "" });
        stderr += result.console.filter(([k]) => k === "stderr").map(([, d]) => d).join("");
      }
      assert.equal(result.exitCode, 130);
      assert.match(stderr, /KeyboardInterrupt/);
      assert.equal((await env.client.query(py, "kept_through_interrupt")).stdout, "'yes'\n");
    });

    it("imports modules from the session's directory", async () => {
      await upload(env, py, { "mymod.py": "VALUE = 'from mymod'\n" });
      assert.equal((await env.client.query(py, "import mymod\nmymod.VALUE")).stdout, "'from mymod'\n");
    });

    it("restart gives a fresh interpreter and keeps the files", async () => {
      await env.client.query(py, "kept = open('mymod.py').read()");
      const res = await env.client.restart(py);
      assert.ok(res.status === 204 || res.status === 200, res.text);
      const log = await env.client.query(py, "print('kept' in globals(), open('mymod.py').read().strip())");
      assert.equal(log.stdout, "False VALUE = 'from mymod'\n");
    });
  });

  describe("lifecycle", () => {
    it("DELETE removes the session's container and its directory", async () => {
      const instance = env.factory.status.instanceId;
      const count = async () => (await listContainers("kiln.instance")).filter((c) => c.labels["kiln.instance"] === instance).length;
      await env.factory.pool.settled();
      const before = await count();
      const id = await newSession(env.client, "bash");
      await env.factory.pool.settled();
      assert.equal(await count(), before + 1);
      assert.ok(existsSync(join(env.dataDir, id)));
      const res = await env.client.destroy(id);
      assert.equal(res.status, 200, res.text);
      assert.ok(!existsSync(join(env.dataDir, id)), "the session directory is gone");
      for (let i = 0; i < 50 && (await count()) !== before; i++) await new Promise((r) => setTimeout(r, 100));
      assert.equal(await count(), before, "the container is gone");
    });

    it("a warm container makes session creation fast", async (t) => {
      const config = { resources: { mem: "200m" } }; // a pool key no other test uses
      let started = Date.now();
      const cold = await newSession(env.client, "bash", config);
      const coldMs = Date.now() - started;
      await env.factory.pool.settled();
      started = Date.now();
      const warm = await newSession(env.client, "bash", config);
      const warmMs = Date.now() - started;
      t.diagnostic(`session creation: cold ${coldMs} ms, warm ${warmMs} ms`);
      assert.ok(warmMs < coldMs, `warm ${warmMs} ms < cold ${coldMs} ms`);
      const log = await env.client.batch(warm, { exec: "echo warm > w.txt; ls" });
      assert.equal(log.stdout, "w.txt\n", "the warm container sees its own session's directory");
      assert.deepEqual([...(await env.client.ls(cold)).keys()], []);
      await env.client.destroy(cold);
      await env.client.destroy(warm);
    });

    it("the state directory holds nothing but live containers' state", () => {
      const instances = readdirSync(env.stateDir);
      assert.equal(instances.length, 1);
    });
  });
});
