// The runner execs a command of plain words directly and gives anything else to bash
// (sandbox-images/runner/runner.c). Through the API, each command here runs both ways —
// as plain words, and with shell syntax that means the same (quotes) — and the two must
// agree on exit code, stdout and stderr; then the shell features themselves still work.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { newSession, podmanEnv, unavailable, upload, type PodmanEnv } from "./podman-env.ts";

const skip = await unavailable(["bash"]);

/** The same command with every word single-quoted: shell syntax, so bash runs it. */
function quoted(command: string): string {
  return command
    .trim()
    .split(/[ \t]+/)
    .map((word) => `'${word}'`)
    .join(" ");
}

describe("podman kernels: commands with and without shell syntax", { skip }, () => {
  let env: PodmanEnv;
  let id: string;
  before(async () => {
    env = await podmanEnv();
    id = await newSession(env.client, "bash");
    await upload(env, id, {
      args: '#!/bin/bash\nprintf "[%s]" "$0" "$@"; echo\n',
      status: "#!/bin/bash\nexit $1\n",
      "no-shebang": "echo run by bash: $0 $#\n",
      "data.txt": "just data\n",
      "a.txt": "",
      "b.txt": "",
      "sub/.keep": "",
    });
    const setup = await env.client.batch(id, { exec: "chmod +x args status no-shebang" });
    assert.equal(setup.final.exitCode, 0, setup.stderr);
  });
  after(() => env?.close());

  async function run(command: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const log = await env.client.batch(id, { exec: command });
    assert.equal(log.final.status, "finished", `${command}: ${log.final.status}`);
    return { code: log.final.exitCode, stdout: log.stdout, stderr: log.stderr };
  }

  /** Runs `command` as plain words and quoted, asserts they agree, and returns the result. */
  async function both(command: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const plain = await run(command);
    const shell = await run(quoted(command));
    assert.deepEqual(plain, shell, `${JSON.stringify(command)} as plain words vs through bash`);
    return plain;
  }

  it("exit codes", async () => {
    assert.equal((await both("./status 0")).code, 0);
    assert.equal((await both("./status 3")).code, 3);
    assert.equal((await both("./status 255")).code, 255);
  });

  it("arguments, with punctuation bash leaves alone and UTF-8", async () => {
    const result = await both("./args a  b-c\td=e +f,g:h@i 50% 1^2 héllo 日本語 ☀");
    assert.deepEqual(result, { code: 0, stdout: "[./args][a][b-c][d=e][+f,g:h@i][50%][1^2][héllo][日本語][☀]\n", stderr: "" });
  });

  it("a program found on PATH gets the environment bash would give it", async () => {
    const sorted = (text: string) => text.split("\n").sort().join("\n");
    const plain = await run("env");
    const shell = await run("'env'");
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal(sorted(plain.stdout), sorted(shell.stdout));
    for (const line of ["PWD=/home/work", "SHLVL=0", "_=/usr/bin/env", "HOME=/home/work", "LANG=C.UTF-8"]) {
      assert.ok(plain.stdout.split("\n").includes(line), `${line} in\n${plain.stdout}`);
    }
  });

  it("a missing command is 127 with bash's message", async () => {
    assert.deepEqual(await both("no-such-command x"), { code: 127, stdout: "", stderr: "bash: line 1: no-such-command: command not found\n" });
    assert.deepEqual(await both("./no-such-file"), { code: 127, stdout: "", stderr: "bash: line 1: ./no-such-file: No such file or directory\n" });
  });

  it("a file that is not executable, or a directory, is 126 with bash's message", async () => {
    assert.deepEqual(await both("./data.txt"), { code: 126, stdout: "", stderr: "bash: line 1: ./data.txt: Permission denied\n" });
    assert.deepEqual(await both("./sub"), { code: 126, stdout: "", stderr: "bash: line 1: ./sub: Is a directory\n" });
  });

  it("a command starting with - is a command, not an option", async () => {
    assert.deepEqual(await both("--version"), { code: 127, stdout: "", stderr: "bash: line 1: --version: command not found\n" });
    assert.deepEqual(await both("-c echo"), { code: 127, stdout: "", stderr: "bash: line 1: -c: command not found\n" });
  });

  it("an executable script without #! is run by bash", async () => {
    assert.deepEqual(await both("./no-shebang x y"), { code: 0, stdout: "run by bash: ./no-shebang 2\n", stderr: "" });
  });

  it("builtins and keywords stay bash's: echo, true, cd, pwd, exit, time", async () => {
    // /usr/bin/echo and /usr/bin/true would print help here; the builtins do not.
    const cases: Array<[string, number, string, string]> = [
      ["echo --help", 0, "--help\n", ""],
      ["true --help", 0, "", ""],
      ["cd sub", 0, "", ""],
      ["cd no-such-dir", 1, "", "bash: line 1: cd: no-such-dir: No such file or directory\n"],
      ["pwd", 0, "/home/work\n", ""],
      ["exit 4", 4, "", ""],
    ];
    for (const [command, code, stdout, stderr] of cases) assert.deepEqual(await both(command), { code, stdout, stderr }, command);
    assert.match((await run("time ./status 0")).stderr, /real\s/);
  });

  it("shell syntax still means what it means to bash", async () => {
    const cases: Array<[string, string]> = [
      ["cd sub && pwd", "/home/work/sub\n"],
      ["./args x | tr a-z A-Z", "[./ARGS][X]\n"],
      ["./args *.txt", "[./args][a.txt][b.txt][data.txt]\n"],
      ["./args $HOME ~ ${NOPE:-default}", "[./args][/home/work][/home/work][default]\n"],
      ["GREETING=hi ./args", "[./args]\n"],
      ["GREETING=hi printenv GREETING", "hi\n"],
      ["./args a\\ b 'c d' \"e\"", "[./args][a b][c d][e]\n"],
      ["./status 3; echo after $?", "after 3\n"],
      ["./args x > out.txt && cat out.txt", "[./args][x]\n"],
      ["./args a{b,c} # comment", "[./args][ab][ac]\n"],
    ];
    for (const [command, stdout] of cases) assert.deepEqual(await run(command), { code: 0, stdout, stderr: "" }, command);
  });

  it("an environment variable that changes how bash starts is honoured", async () => {
    const other = await newSession(env.client, "bash", { environ: { BASH_ENV: "/home/work/startup.sh" } });
    await upload(env, other, { "startup.sh": "echo sourced first\n" });
    const log = await env.client.batch(other, { exec: "/usr/bin/env --version" });
    assert.equal(log.final.exitCode, 0, log.stderr);
    assert.match(log.stdout, /^sourced first\nenv \(GNU coreutils\)/);
    await env.client.destroy(other);
  });
});
