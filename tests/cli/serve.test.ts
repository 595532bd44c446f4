// `kiln serve` as users start it: a real process, options from flags and the
// environment, a real port, and a clean exit on SIGTERM.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { OPTIONS } from "../../src/config.ts";
import { VERSION } from "../../src/version.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const bin = fileURLToPath(new URL("../../bin/kiln.js", import.meta.url));

function kiln(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, ...env } });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const output = async (pattern: RegExp) => {
    for (let i = 0; i < 200 && !pattern.test(out); i++) await new Promise((r) => setTimeout(r, 50));
    return pattern.exec(out);
  };
  return { child, exited, output, out: () => out, err: () => err };
}

/** Creates a JavaScript session on the server at `url` and runs a query that prints 42. */
async function answers42(url: string, name: string): Promise<void> {
  const post = (path: string, body: unknown) => fetch(url + path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const created = await post("/session", { lang: "javascript", clientSessionToken: name });
  assert.equal(created.status, 201, await created.clone().text());
  const run = await post(`/session/${name}`, { mode: "query", code: "console.log(6 * 7)" });
  assert.deepEqual((await run.json()).result.console, [["stdout", "42\n"]]);
}

describe("kiln serve", () => {
  it("serves on the port it prints and exits 0 on SIGTERM, destroying its sessions", async () => {
    const server = kiln(["serve", "--port", "0"], { KILN_MAX_SESSIONS: "3" });
    const match = await server.output(/listening on (http:\/\/\S+)/);
    assert.ok(match, `no URL printed: ${server.out()} ${server.err()}`);
    const res = await fetch(match[1] + "/");
    assert.deepEqual(await res.json(), { version: "v8.20240915", manager: VERSION });
    await answers42(match[1]!, "sigterm-test");
    server.child.kill("SIGTERM");
    assert.equal(await server.exited, 0);
    assert.match(server.out(), /SIGTERM: destroying 1 session\(s\)/);
  });

  it("--js-kernel quickjs serves JavaScript sessions on the WebAssembly kernel", async () => {
    const server = kiln(["serve", "--port", "0", "--js-kernel", "quickjs"]);
    const match = await server.output(/listening on (http:\/\/\S+)/);
    assert.ok(match, `no URL printed: ${server.out()} ${server.err()}`);
    const health = (await (await fetch(match[1] + "/healthz")).json()) as { kernels: Record<string, string> };
    assert.equal(health.kernels.javascript, "quickjs");
    await answers42(match[1]!, "quickjs-test");
    server.child.kill("SIGTERM");
    assert.equal(await server.exited, 0);
  });

  it("lists every option with its environment variable in --help", async () => {
    const help = kiln(["serve", "--help"]);
    assert.equal(await help.exited, 0);
    for (const option of OPTIONS) {
      assert.ok(help.out().includes(option.flag) && help.out().includes(option.env), `${option.flag} missing from --help`);
    }
  });

  it("refuses invalid options naming them, with exit code 2", async () => {
    const bad = kiln(["serve", "--port", "http"], { KILN_MAX_SESSIONS: "none" });
    assert.equal(await bad.exited, 2);
    assert.match(bad.err(), /--port \/ KILN_PORT: must be a port number/);
    assert.match(bad.err(), /--max-sessions \/ KILN_MAX_SESSIONS: must be a whole number/);
    const unknown = kiln(["serve", "--frobnicate"]);
    assert.equal(await unknown.exited, 2);
    assert.match(unknown.err(), /frobnicate/);
  });

  it("documents every option in the README and reports package.json's version", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    for (const option of OPTIONS) assert.ok(readme.includes(`\`${option.flag}\``) && readme.includes(`\`${option.env}\``), option.flag);
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
    assert.equal(VERSION, pkg.version);
  });
});
