// Every podman language through the HTTP API, one session per language reused across
// its tests (the session directory is emptied between them): hello world with Unicode,
// stdin through waiting-input/input, a multi-file project with the default build, a
// Makefile project, a build error (exec → 127), a crash, an output file downloaded
// byte for byte, and query mode.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { exitCodes, newSession, pattern, podmanEnv, reset, unavailable, upload, type PodmanEnv } from "./podman-env.ts";
import { HELLO, OUTPUT_BYTES, PROGRAMS } from "./podman-programs.ts";

const LANGS = Object.keys(PROGRAMS);
const skip = await unavailable(LANGS);

describe("podman kernels: languages", { skip }, () => {
  let env: PodmanEnv;
  before(async () => {
    env = await podmanEnv();
  });
  after(() => env?.close());

  for (const lang of LANGS) {
    const programs = PROGRAMS[lang]!;
    describe(lang, () => {
      let id: string;
      before(async () => {
        id = await newSession(env.client, lang);
      });
      after(async () => {
        if (id) await env.client.destroy(id);
      });

      it("hello world with Unicode output (build *, exec *)", async () => {
        await reset(env.client, id);
        await upload(env, id, programs.hello);
        const log = await env.client.batch(id, { build: "*", exec: "*" });
        assert.deepEqual(log.statuses.filter((s) => s !== "continued"), ["clean-finished", "build-finished", "finished"], log.stderr);
        assert.deepEqual(exitCodes(log), [0, 0, 0], log.stderr);
        assert.equal(log.stdout, `${HELLO}\n`);
      });

      it("stdin echo through waiting-input / input", async () => {
        await reset(env.client, id);
        await upload(env, id, programs.echo);
        const log = await env.client.run(id, { mode: "batch", options: { build: "*", exec: "*" } }, { inputs: ["Zoë says ☀"] });
        assert.ok(log.statuses.includes("waiting-input"), log.statuses.join(","));
        const waiting = log.results.find((r) => r.status === "waiting-input")!;
        assert.deepEqual(waiting.options, { is_password: false });
        assert.equal(log.final.exitCode, 0, log.stderr);
        assert.equal(log.stdout, "name? echo: Zoë says ☀\n");
      });

      it("a multi-file project with the default build", async () => {
        await reset(env.client, id);
        await upload(env, id, programs.multiFile);
        const log = await env.client.batch(id, { build: "*", exec: "*" });
        assert.deepEqual(exitCodes(log), [0, 0, 0], log.stderr);
        assert.equal(log.stdout, "42 42\n");
      });

      if (programs.makefile) {
        const files = programs.makefile;
        it("a Makefile project: clean * runs make clean when it has the target, build * runs make", async () => {
          await reset(env.client, id);
          await upload(env, id, { ...files, "stale.txt": "left over\n" });
          const log = await env.client.batch(id, { clean: "*", build: "*", exec: "*" });
          assert.deepEqual(exitCodes(log), [0, 0, 0], log.stderr);
          assert.equal(log.stdout.split("\n").filter((l) => l === "made by make").length, 1, log.stdout);
          const cleaned = files.Makefile!.includes("clean:");
          assert.equal(await env.client.exists(id, "stale.txt"), !cleaned);
        });
      }

      it("a build error: build-finished with its code, then exec is 127", async () => {
        await reset(env.client, id);
        await upload(env, id, programs.buildError);
        const log = await env.client.batch(id, { build: "*", exec: "*" });
        const [clean, build, exec] = exitCodes(log);
        assert.equal(clean, 0);
        assert.notEqual(build, 0, "the build fails");
        assert.equal(exec, 127);
        assert.ok(log.stderr.length > 0, "the compiler says why");
      });

      it("a runtime crash exits non-zero", async () => {
        await reset(env.client, id);
        await upload(env, id, programs.crash.files);
        const log = await env.client.batch(id, { build: "*", exec: "*" });
        const [, build, exec] = exitCodes(log);
        assert.equal(build, 0, log.stderr);
        assert.notEqual(exec, 0);
        if (programs.crash.exitCode !== undefined) assert.equal(exec, programs.crash.exitCode, log.stderr);
        if (programs.crash.stderr) assert.match(log.stderr, programs.crash.stderr);
      });

      it("a program's output file, downloaded byte for byte", async () => {
        await reset(env.client, id);
        await upload(env, id, programs.output);
        const log = await env.client.batch(id, { build: "*", exec: "*" });
        assert.deepEqual(exitCodes(log), [0, 0, 0], log.stderr);
        assert.deepEqual(await env.client.readFile(id, "out.bin"), pattern(OUTPUT_BYTES));
      });

      it("exec * with nothing to run exits 127 with a message", async () => {
        await reset(env.client, id);
        const log = await env.client.batch(id, { exec: "*" });
        assert.equal(log.final.exitCode, 127);
        assert.match(log.stderr, /not found/);
      });

      it("query mode runs the code", async () => {
        await reset(env.client, id);
        const code = Object.values(programs.hello)[0]!;
        const log = await env.client.query(id, code);
        assert.equal(log.final.status, "finished");
        assert.equal(log.final.exitCode, 0, log.stderr);
        assert.ok(log.stdout.endsWith(`${HELLO}\n`), log.stdout);
      });
    });
  }
});
