// The client commands end to end (bin/kiln.js against `kiln serve`): create, upload,
// ls, download, sessions and rm, as text and as --json; their errors and exit codes;
// --url over KILN_URL; --help; and keys from `kiln keygen` signing requests to a server
// that requires them.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { configure, Uint8ArrayReader, ZipReader } from "@zip.js/zip.js";
import { createCommand } from "../../src/cli/create.ts";
import { downloadCommand } from "../../src/cli/download.ts";
import { lsCommand } from "../../src/cli/ls.ts";
import { rmCommand } from "../../src/cli/rm.ts";
import { runCommand } from "../../src/cli/run.ts";
import { sessionsCommand } from "../../src/cli/sessions.ts";
import { uploadCommand } from "../../src/cli/upload.ts";
import { startKiln } from "../client/kiln-server.ts";
import { cliEnv, kiln, type CliEnv } from "./kiln.ts";

configure({ useWebWorkers: false });

let ctx: CliEnv;
let dir: string;
let env: Record<string, string>;

before(async () => {
  ctx = await cliEnv({ "src/main.js": "console.log(1)\n", "src/lib/util.js": "exports.x = 1\n", "notes.txt": "notes" });
  ({ dir, env } = ctx);
});
after(() => ctx?.close());

describe("kiln client commands", () => {
  it("create, upload, ls, download, sessions and rm a session, as text", async () => {
    const created = await kiln(["create", "--lang", "javascript", "--name", "cli-text", "--tag", "cli"], { env });
    assert.deepEqual([created.code, created.stdout], [0, "cli-text\n"], created.stderr);

    const uploaded = await kiln(["upload", "cli-text", "src", "notes.txt"], { env, cwd: dir });
    assert.deepEqual([uploaded.code, uploaded.stdout], [0, "uploaded 3 files (34 B)\n"], uploaded.stderr);

    const listed = await kiln(["ls", "cli-text"], { env });
    assert.equal(listed.code, 0, listed.stderr);
    const lines = listed.stdout.trim().split("\n");
    assert.match(lines[0]!, /^MODE\s+SIZE\s+MODIFIED\s+NAME$/);
    assert.match(lines[1]!, /^-rw-r--r--\s+5\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+notes\.txt$/);
    assert.match(lines[2]!, /^drwx\S+\s+\d+\s+.*\ssrc\/$/);
    assert.match((await kiln(["ls", "cli-text", "src/lib"], { env })).stdout, /util\.js\n$/);

    const out = join(dir, "downloaded");
    const downloaded = await kiln(["download", "cli-text", "src", "notes.txt", "--out", out], { env });
    assert.deepEqual([downloaded.code, downloaded.stdout], [0, "downloaded 5 entries\n"], downloaded.stderr);
    assert.equal(await readFile(join(out, "src/lib/util.js"), "utf8"), "exports.x = 1\n");
    assert.equal(await readFile(join(out, "notes.txt"), "utf8"), "notes");

    const zip = join(dir, "session.zip");
    assert.equal((await kiln(["download", "cli-text", "src", "--zip", zip], { env })).code, 0);
    const reader = new ZipReader(new Uint8ArrayReader(new Uint8Array(await readFile(zip))));
    assert.ok((await reader.getEntries()).some((e) => e.filename === "src/lib/util.js"));
    await reader.close();

    const sessions = await kiln(["sessions", "--tag", "cli"], { env });
    assert.match(sessions.stdout, /^NAME\s+ID\s+IMAGE\s+STATUS\s+AGE\s+TAG\ncli-text\s+[0-9a-f-]{36}\s+javascript\s+RUNNING\s+\d+s\s+cli\n$/);

    const removed = await kiln(["rm", "cli-text"], { env });
    assert.deepEqual([removed.code, removed.stdout], [0, "removed cli-text\n"]);
    assert.equal((await kiln(["sessions", "--tag", "cli"], { env })).stdout, "NAME  ID  IMAGE  STATUS  AGE  TAG\n");
  });

  it("print JSON with --json", async () => {
    const created = JSON.parse((await kiln(["create", "--lang", "js", "--json", "--env", "A=1"], { env })).stdout);
    assert.equal(created.created, true);
    const name = created.sessionName as string;
    assert.match(name, /^kiln-/);
    assert.deepEqual(JSON.parse((await kiln(["upload", name, "notes.txt", "--json"], { env, cwd: dir })).stdout), { session: name, files: ["notes.txt"], bytes: 5 });
    const entries = JSON.parse((await kiln(["ls", name, "--json"], { env })).stdout);
    assert.deepEqual(entries.map((e: { filename: string; kind: string; size: number }) => [e.filename, e.kind, e.size]), [["notes.txt", "file", 5]]);
    const out = join(dir, "json-download");
    assert.deepEqual(JSON.parse((await kiln(["download", name, "notes.txt", "--out", out, "--json"], { env })).stdout), { session: name, files: ["notes.txt"] });
    const sessions = JSON.parse((await kiln(["sessions", "--json"], { env })).stdout);
    assert.deepEqual(sessions.map((s: { sessionId: string }) => s.sessionId), [created.sessionId]);
    assert.deepEqual(JSON.parse((await kiln(["rm", name, "--json"], { env })).stdout), [{ session: name, removed: true }]);
  });

  it("exit 1 with the server's message for an unknown session, 2 for usage mistakes", async () => {
    for (const args of [["ls", "ghost-session"], ["download", "ghost-session", "x"], ["upload", "ghost-session", "notes.txt"]]) {
      const result = await kiln(args, { env, cwd: dir });
      assert.equal(result.code, 1, args.join(" "));
      assert.match(result.stderr, /^kiln: 404: No such session\. Session \(id=ghost-session\) does not exist\.\n$/);
    }
    const partly = await kiln(["rm", "ghost-session", "--json"], { env });
    assert.equal(partly.code, 1);
    assert.equal(JSON.parse(partly.stdout)[0].removed, false);
    const missingFile = await kiln(["upload", "any", "no-such-file.txt"], { env, cwd: dir });
    assert.equal(missingFile.code, 1);
    assert.match(missingFile.stderr, /no-such-file\.txt/);
    for (const args of [["ls"], ["upload", "only-session"], ["create"], ["rm"], ["ls", "s", "--frobnicate"], ["frobnicate"], ["download", "s", "x", "--out", "d", "--zip", "z"]]) {
      const result = await kiln(args, { env });
      assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, /^kiln: /);
    }
  });

  it("take --url over KILN_URL, and say when nothing answers", async () => {
    const nowhere = { KILN_URL: "http://127.0.0.1:9" };
    const failed = await kiln(["sessions"], { env: nowhere });
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /^kiln: Cannot reach http:\/\/127\.0\.0\.1:9: /);
    assert.equal((await kiln(["sessions", "--url", ctx.server.url], { env: nowhere })).code, 0);
  });

  it("list every command in kiln --help and each command's options in its --help", async () => {
    const top = await kiln(["--help"]);
    assert.equal(top.code, 0);
    const commands = [runCommand, createCommand, sessionsCommand, uploadCommand, lsCommand, downloadCommand, rmCommand];
    for (const command of commands) {
      assert.match(top.stdout, new RegExp(`^  ${command.name} `, "m"));
      const help = await kiln([command.name, "--help"]);
      assert.equal(help.code, 0);
      assert.ok(help.stdout.startsWith(`kiln ${command.name}: `), help.stdout);
      for (const option of command.options) {
        assert.ok(help.stdout.includes(`--${option.name}`), `${command.name} --help lacks --${option.name}`);
        if (option.env) assert.ok(help.stdout.includes(option.env), `${command.name} --help lacks ${option.env}`);
      }
    }
  });

  it("sign with a keypair from kiln keygen, or send its token, to a server that requires them", async () => {
    const keysFile = join(dir, "keys", "keys.json");
    const made = await kiln(["keygen", "--keys-file", keysFile]);
    assert.equal(made.code, 0, made.stderr);
    assert.equal((await stat(keysFile)).mode & 0o777, 0o600);
    const [key] = JSON.parse(await readFile(keysFile, "utf8")) as { accessKey: string; secretKey: string; token: string }[];
    assert.ok(made.stdout.includes(key!.accessKey) && made.stdout.includes(key!.secretKey));

    const secured = await startKiln(["--auth", "on", "--keys-file", keysFile]);
    try {
      const url = { KILN_URL: secured.url };
      const anonymous = await kiln(["sessions"], { env: url });
      assert.equal(anonymous.code, 1);
      assert.match(anonymous.stderr, /^kiln: 401: /);
      const signed = await kiln(["create", "--lang", "js", "--name", "signed-one", "--access-key", key!.accessKey, "--secret-key", key!.secretKey], { env: url });
      assert.equal(signed.code, 0, signed.stderr);
      const viaEnv = await kiln(["sessions", "--json"], { env: { ...url, KILN_ACCESS_KEY: key!.accessKey, KILN_SECRET_KEY: key!.secretKey } });
      assert.deepEqual(JSON.parse(viaEnv.stdout).map((s: { sessionName: string }) => s.sessionName), ["signed-one"]);
      assert.equal((await kiln(["rm", "signed-one"], { env: { ...url, KILN_TOKEN: key!.token } })).code, 0);
      const wrong = await kiln(["sessions"], { env: { ...url, KILN_ACCESS_KEY: key!.accessKey, KILN_SECRET_KEY: "not-the-secret" } });
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, /^kiln: 401: .*Signature mismatch/);
      assert.deepEqual(await readdir(join(dir, "keys")), ["keys.json"]);
    } finally {
      await secured.close();
    }
  });
});
