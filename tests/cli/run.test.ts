// `kiln run` end to end: bin/kiln.js against a `kiln serve` the test starts, with the
// JavaScript kernel: live output and the program's exit code, input from --stdin or
// a pipe, --out, --json, a failed build, Ctrl-C, and the session always removed.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { KilnClient } from "../../src/client/index.ts";
import { cliEnv, kiln, start, type CliEnv } from "./kiln.ts";

let ctx: CliEnv;
let dir: string;
let env: Record<string, string>;

const MAIN = `const name = prompt("Name? ");
console.log("hello " + name);
console.error("a warning");
require("fs").mkdirSync("out/deep", { recursive: true });
require("fs").writeFileSync("out/deep/result.txt", "42\\n");
require("fs").writeFileSync("data.txt", "changed by the program");
process.exitCode = 3;
`;

before(async () => {
  ctx = await cliEnv({ "main.js": MAIN, "data.txt": "uploaded", "kept.txt": "uploaded, untouched", "answers.txt": "Kiln\n" });
  ({ dir, env } = ctx);
});
after(() => ctx?.close());

async function liveSessions(): Promise<string[]> {
  return (await new KilnClient({ url: ctx.server.url }).sessions()).map((s) => s.sessionName);
}

describe("kiln run", () => {
  it("streams the program's output, answers prompt() from --stdin and exits with its exit code", async () => {
    const result = await kiln(["run", "--lang", "javascript", "main.js", "data.txt", "--stdin", "answers.txt"], { env, cwd: dir });
    assert.equal(result.code, 3, result.stderr);
    assert.equal(result.stdout.replace(/Name\? +/, "Name? "), "Name? hello Kiln\n");
    assert.match(result.stderr, /a warning\n/);
    assert.deepEqual(await liveSessions(), []);
  });

  it("answers input from a pipe when there is no --stdin", async () => {
    const result = await kiln(["run", "--lang", "js", "main.js", "data.txt"], { env, cwd: dir, input: "Pipe\n" });
    assert.equal(result.code, 3, result.stderr);
    assert.match(result.stdout, /hello Pipe\n/);
  });

  it("downloads what the program wrote or changed with --out, not what was uploaded", async () => {
    const out = join(dir, "out-dir");
    const result = await kiln(["run", "--lang", "javascript", "main.js", "data.txt", "kept.txt", "--stdin", "answers.txt", "--out", out], { env, cwd: dir });
    assert.equal(result.code, 3, result.stderr);
    assert.deepEqual((await readdir(out)).sort(), ["data.txt", "out"]);
    assert.equal(await readFile(join(out, "out/deep/result.txt"), "utf8"), "42\n");
    assert.equal(await readFile(join(out, "data.txt"), "utf8"), "changed by the program");
  });

  it("prints one JSON document with --json", async () => {
    const out = join(dir, "json-out");
    const result = await kiln(["run", "--lang", "javascript", "main.js", "data.txt", "--json", "--out", out], { env, cwd: dir, input: "Json\n" });
    assert.equal(result.code, 3, result.stderr);
    const doc = JSON.parse(result.stdout);
    assert.match(doc.session, /^kiln-/);
    assert.equal(doc.exitCode, 3);
    assert.equal(doc.timedOut, false);
    assert.deepEqual(doc.build, { exitCode: 0, stdout: "", stderr: "" });
    assert.equal(doc.exec.exitCode, 3);
    assert.match(doc.exec.stdout, /hello Json\n$/);
    assert.equal(doc.exec.stderr, "a warning\n");
    assert.deepEqual(doc.files.sort(), ["data.txt", "out", "out/deep", "out/deep/result.txt"]);
    assert.equal(result.stderr, "");
  });

  it("exits with the build's exit code when the build fails, its output on stderr", async () => {
    await writeFile(join(dir, "broken.ts"), "const x: number = ;\n");
    const result = await kiln(["run", "--lang", "typescript", "broken.ts"], { env, cwd: dir });
    assert.notEqual(result.code, 0);
    assert.notEqual(result.code, 127);
    assert.equal(result.stdout, "");
    assert.match(result.stderr, /kiln: the build failed with exit code \d+/);
    assert.deepEqual(await liveSessions(), []);
  });

  it("stops a program that wants more input than there is", async () => {
    await writeFile(join(dir, "greedy.js"), "while (true) prompt();\n");
    const result = await kiln(["run", "--lang", "javascript", "--exec", "node greedy.js", "greedy.js"], { env, cwd: dir, input: "one\n" });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /more input after the end of its input/);
    assert.deepEqual(await liveSessions(), []);
  });

  it("removes the session on Ctrl-C and exits 130", async () => {
    await writeFile(join(dir, "wait.js"), 'console.log("waiting"); setTimeout(() => {}, 60_000);\n');
    const running = start(["run", "--lang", "javascript", "--exec", "node wait.js", "wait.js"], { env, cwd: dir, detached: true });
    await running.waitFor(/waiting/);
    assert.equal((await liveSessions()).length, 1);
    process.kill(-running.child.pid!, "SIGINT"); // the whole process group, as a terminal does
    const result = await running.finished;
    assert.equal(result.code, 130, result.stderr);
    assert.match(result.stderr, /SIGINT: stopped; the session was removed/);
    assert.deepEqual(await liveSessions(), []);
  });

  it("refuses to run without --lang or files, and names a missing file", async () => {
    assert.equal((await kiln(["run", "main.js"], { env, cwd: dir })).code, 2);
    assert.equal((await kiln(["run", "--lang", "js"], { env, cwd: dir })).code, 2);
    const missing = await kiln(["run", "--lang", "js", "nope.js"], { env, cwd: dir });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /nope\.js/);
    assert.deepEqual(await liveSessions(), []);
  });
});
