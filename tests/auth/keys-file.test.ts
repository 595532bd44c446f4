// The keys file: refused when group or others may read it, validated entry by
// entry; `kiln keygen` appends a Backend.AI-shaped keypair to it with mode 0600.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp } from "../../src/app.ts";
import { generateKeypair, keygenCommand } from "../../src/auth/keygen.ts";
import { loadKeys, readKeysFile } from "../../src/auth/keys-file.ts";
import { ConfigError, parseConfig } from "../../src/config.ts";
import { KEY } from "./harness.ts";

const posix = process.platform !== "win32";

describe("keys file", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "kiln-keys-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const write = (name: string, content: unknown, mode = 0o600) => {
    const path = join(dir, name);
    writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
    chmodSync(path, mode);
    return path;
  };

  it("is read when it is private, and serves its keys", async () => {
    const path = write("keys.json", [KEY]);
    assert.deepEqual(readKeysFile(path), [KEY]);
    const app = createApp({ config: { host: "0.0.0.0", keysFile: path } });
    assert.equal(app.authRequired, true);
    const res = await app.fetch(new Request("http://kiln/sessions", { headers: { authorization: `Bearer ${KEY.token}` } }));
    assert.equal(res.status, 200);
    await app.close();
  });

  it("is refused when group or others may read it, as ssh refuses a private key", { skip: !posix && "no POSIX modes" }, () => {
    for (const mode of [0o644, 0o640, 0o604, 0o660, 0o601]) {
      const path = write(`open-${mode.toString(8)}.json`, [KEY], mode);
      assert.throws(
        () => readKeysFile(path),
        (e: unknown) => e instanceof ConfigError && e.message.includes(`Permissions 0${mode.toString(8)}`) && e.message.includes(`chmod 600 ${path}`),
      );
      assert.throws(() => createApp({ config: { host: "0.0.0.0", keysFile: path } }), /too open/);
    }
    assert.deepEqual(readKeysFile(write("owner-only.json", [KEY], 0o400)), [KEY]);
  });

  it("names what is wrong with an entry, without echoing secrets", () => {
    assert.throws(() => readKeysFile(write("not-json.json", "{")), /is not JSON/);
    assert.throws(() => readKeysFile(write("object.json", { keys: [KEY] })), /is not a list of/);
    const bad = write("bad.json", [KEY, { accessKey: "AK:IA", secretKey: "too-short" }, { accessKey: "AKIANOSECRET" }]);
    assert.throws(
      () => readKeysFile(bad),
      (e: unknown) =>
        e instanceof ConfigError && /1\.accessKey: must be printable ASCII/.test(e.message) && /1\.secretKey: must be at least 16/.test(e.message) &&
        /needs a secretKey, a token or both/.test(e.message) && !e.message.includes("too-short"),
    );
  });

  it("must exist when named, and may be missing when it is the default", () => {
    const missing = join(dir, "missing.json");
    assert.throws(() => readKeysFile(missing), /does not exist; `kiln keygen --keys-file/);
    assert.throws(() => createApp({ config: { keysFile: missing } }), /does not exist/);
    assert.deepEqual(readKeysFile(missing, true), []);
    // The default file is read only when authentication is on, so a loopback server never trips on it.
    const xdg = join(dir, "xdg-open");
    keygenCommand([], { XDG_CONFIG_HOME: xdg }, () => undefined);
    chmodSync(join(xdg, "kiln", "keys.json"), 0o644);
    assert.deepEqual(loadKeys(parseConfig({}), { XDG_CONFIG_HOME: xdg }), []);
    assert.throws(() => loadKeys(parseConfig({ host: "0.0.0.0" }), { XDG_CONFIG_HOME: xdg }), /too open/);
  });
});

describe("kiln keygen", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "kiln-keygen-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("makes Backend.AI-shaped keypairs from a crypto-random source", () => {
    const keys = Array.from({ length: 50 }, generateKeypair);
    for (const key of keys) {
      assert.match(key.accessKey, /^AKIA[A-Z0-9]{16}$/);
      assert.match(key.secretKey, /^[A-Za-z0-9_-]{40}$/);
      assert.match(key.token, /^[A-Za-z0-9_-]{43}$/);
    }
    assert.equal(new Set(keys.map((k) => k.accessKey)).size, 50);
    assert.equal(new Set(keys.map((k) => k.secretKey)).size, 50);
  });

  it("appends to the default keys file with mode 0600, printing the pair once", () => {
    const env = { XDG_CONFIG_HOME: join(dir, "config") };
    const printed: string[] = [];
    const first = keygenCommand([], env, (text) => printed.push(text));
    const second = keygenCommand([], env, (text) => printed.push(text));
    const file = join(dir, "config", "kiln", "keys.json");
    if (posix) {
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.equal(statSync(join(dir, "config", "kiln")).mode & 0o777, 0o700);
    }
    assert.deepEqual(JSON.parse(readFileSync(file, "utf8")), [first, second]);
    assert.equal(printed.length, 2);
    assert.match(printed[0]!, new RegExp(`access key: ${first.accessKey}\\nsecret key: ${first.secretKey}\\ntoken: +${first.token}\\n`));
    assert.ok(printed[0]!.includes(file));
    // What keygen wrote is what a public server then accepts.
    assert.deepEqual(loadKeys(parseConfig({ host: "0.0.0.0" }), env), [first, second]);
  });

  it("writes where --keys-file says, and refuses to add to a file others can read", () => {
    const file = join(dir, "elsewhere", "keys.json");
    const key = keygenCommand(["--keys-file", file], {}, () => undefined);
    assert.deepEqual(readKeysFile(file), [key]);
    if (!posix) return;
    chmodSync(file, 0o644);
    assert.throws(() => keygenCommand(["--keys-file", file], {}, () => undefined), /too open/);
    assert.equal(statSync(file).mode & 0o777, 0o644, "left as it was");
  });
});
