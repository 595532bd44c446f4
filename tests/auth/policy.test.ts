// When authentication is on: off on loopback by default, required elsewhere, and a
// server that would require it with no keypair refuses to start, naming `kiln keygen`.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createApp } from "../../src/app.ts";
import { keysFromEnv, loadKeys } from "../../src/auth/keys-file.ts";
import { authRequired, isLoopbackHost } from "../../src/auth/policy.ts";
import { ConfigError, parseConfig } from "../../src/config.ts";
import { scriptKernelFactory } from "../helpers/script-kernel.ts";
import { serveApp } from "../helpers/serve.ts";
import { KEY } from "./harness.ts";

const noKeygen = (error: unknown) => error instanceof ConfigError && /kiln keygen/.test(error.message) && /KILN_ACCESS_KEY/.test(error.message);

describe("authentication policy", () => {
  it("is off on a loopback address by default: unsigned requests are served", async () => {
    const app = createApp({ kernels: [scriptKernelFactory()] });
    const server = await serveApp(app);
    try {
      assert.equal(app.authRequired, false);
      const res = await fetch(server.url + "/session", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ lang: "script", clientSessionToken: "anon-demo" }),
      });
      assert.equal(res.status, 201);
      // Without authentication nothing is limited by default, so no rate-limit headers either.
      assert.equal(res.headers.get("x-ratelimit-limit"), null);
    } finally {
      await server.close();
      await app.close();
    }
  });

  it("knows loopback addresses from the rest", () => {
    for (const host of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST", "::ffff:127.0.0.1"]) assert.ok(isLoopbackHost(host), host);
    for (const host of ["0.0.0.0", "::", "192.168.1.10", "10.0.0.1", "kiln.example.com", "128.0.0.1", "::ffff:10.0.0.1"]) assert.ok(!isLoopbackHost(host), host);
    assert.equal(authRequired(parseConfig({ host: "0.0.0.0" })), true);
    assert.equal(authRequired(parseConfig({ host: "127.0.0.1", auth: "on" })), true);
    assert.equal(authRequired(parseConfig({ host: "0.0.0.0", auth: "off" })), false);
  });

  it("refuses a public host, or --auth on, with no keypair, and says how to make one", () => {
    assert.throws(() => createApp({ config: { host: "0.0.0.0" } }), noKeygen);
    assert.throws(() => createApp({ config: { host: "::", auth: "auto" }, keys: [] }), noKeygen);
    assert.throws(() => createApp({ config: { auth: "on" } }), noKeygen);
    assert.throws(() => loadKeys(parseConfig({ host: "0.0.0.0" }), { XDG_CONFIG_HOME: "/nonexistent-kiln-test" }), noKeygen);
  });

  it("starts on a public host with a keypair, or with --auth off said explicitly", async () => {
    const withKey = createApp({ config: { host: "0.0.0.0" }, keys: [KEY] });
    assert.equal(withKey.authRequired, true);
    const res = await withKey.fetch(new Request("http://kiln/sessions"));
    assert.equal(res.status, 401);
    await withKey.close();
    const open = createApp({ config: { host: "0.0.0.0", auth: "off" } });
    assert.equal((await open.fetch(new Request("http://kiln/sessions"))).status, 200);
    await open.close();
  });

  it("rejects a bad --auth value naming the option", () => {
    assert.throws(() => parseConfig({ auth: "maybe" }), /--auth \/ KILN_AUTH: must be auto, on or off/);
  });

  it("takes a keypair from KILN_ACCESS_KEY and KILN_SECRET_KEY, a token from KILN_TOKEN", () => {
    assert.deepEqual(keysFromEnv({}), []);
    assert.deepEqual(keysFromEnv({ KILN_ACCESS_KEY: KEY.accessKey, KILN_SECRET_KEY: KEY.secretKey }), [{ accessKey: KEY.accessKey, secretKey: KEY.secretKey }]);
    assert.deepEqual(keysFromEnv({ KILN_TOKEN: KEY.token }), [{ accessKey: "KILN_TOKEN", token: KEY.token }]);
    assert.throws(() => keysFromEnv({ KILN_SECRET_KEY: KEY.secretKey }), /without KILN_ACCESS_KEY/);
    assert.throws(() => keysFromEnv({ KILN_ACCESS_KEY: KEY.accessKey }), ConfigError);
    assert.throws(() => keysFromEnv({ KILN_TOKEN: "short" }), /at least 16 characters/);
    const env = { KILN_TOKEN: KEY.token, XDG_CONFIG_HOME: "/nonexistent-kiln-test" };
    assert.equal(loadKeys(parseConfig({ host: "0.0.0.0" }), env).length, 1);
  });

  it("refuses two keys with the same access key or token", () => {
    assert.throws(() => createApp({ config: { auth: "on" }, keys: [KEY, { ...KEY, token: "another-token-0123456789" }] }), /configured twice/);
    assert.throws(() => createApp({ config: { auth: "on" }, keys: [KEY, { accessKey: "AKIAOTHER", token: KEY.token! }] }), /configured twice/);
  });
});
