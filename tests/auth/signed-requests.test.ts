// Authentication on, over real HTTP: Backend.AI's own npm SDK signs and is let in;
// wrong secrets, unknown keys, stale dates, missing headers, tampered requests and
// bad bearer tokens get 401 problem+json with Backend.AI's problem names.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { signedHeaders, signature, authorizationHeader } from "../../src/auth/signature.ts";
import { API_VERSION, authServer, KEY, OTHER, sdkClient, type AuthServer, type SdkError } from "./harness.ts";

const PROBS = "https://api.backend.ai/probs/";
const MINUTE = 60_000;

describe("authentication on", () => {
  let s: AuthServer;
  before(async () => {
    s = await authServer();
  });
  after(() => s.close());

  /** A request signed by src/auth/signature.ts (checked against the SDK in tests/client/signature.test.ts). */
  async function signed(method: string, path: string, options: { now?: Date; signUrl?: string; key?: typeof KEY; drop?: string[] } = {}) {
    const key = options.key ?? KEY;
    const headers = await signedHeaders({
      method,
      url: new URL(options.signUrl ?? s.url + path),
      contentType: "application/json",
      accessKey: key.accessKey,
      secretKey: key.secretKey!,
      version: API_VERSION,
      ...(options.now ? { now: options.now } : {}),
    });
    for (const name of options.drop ?? []) delete headers[name];
    return fetch(s.url + path, { method, headers: { ...headers, "content-type": "application/json" } });
  }

  async function assert401(res: Response, problem: "auth-failed" | "invalid-auth-params", msg: RegExp) {
    assert.equal(res.status, 401, await res.clone().text());
    assert.equal(res.headers.get("content-type"), "application/problem+json");
    assert.match(res.headers.get("www-authenticate") ?? "", /BackendAI.*Bearer/);
    const body = (await res.json()) as { type: string; title: string; msg: string };
    assert.equal(body.type, PROBS + problem);
    assert.match(body.msg, msg);
    assert.equal(res.headers.get("x-ratelimit-limit"), null, "no rate-limit headers on an unauthenticated answer");
  }

  it("lets Backend.AI's npm SDK in, unchanged, for a whole batch session", async () => {
    const client = sdkClient(s.url, KEY);
    assert.equal(typeof (await client.get_manager_version()), "string");
    const created = await client.createIfNotExists("script", "signed-demo");
    assert.equal(created.created, true);
    await client.upload("signed-demo", "main.script", new Blob(["print signed hello\n"]));
    let result = await client.execute("signed-demo", null, "batch", "", { build: "", exec: "*" });
    let stdout = "";
    for (;;) {
      for (const [stream, data] of result.result.console) if (stream === "stdout") stdout += data as string;
      if (result.result.status === "finished") break;
      result = await client.execute("signed-demo", result.result.runId, "continue", "", {});
    }
    assert.equal(stdout, "signed hello\n");
    assert.equal(await (await client.download_single("signed-demo", "main.script")).text(), "print signed hello\n");
    assert.equal(typeof (await client.destroy("signed-demo")).stats, "object");
  });

  it("keeps GET / public: clients read the version before signing", async () => {
    const res = await fetch(s.url + "/");
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { version: string }).version, API_VERSION);
  });

  it("refuses the SDK with a wrong secret key or an unknown access key", async () => {
    const wrongSecret = sdkClient(s.url, { accessKey: KEY.accessKey, secretKey: OTHER.secretKey! });
    // The SDK reports every server error as its own "server-error", keeping status and title.
    await assert.rejects(wrongSecret.createIfNotExists("script", "nope-1"), (e: SdkError) => {
      assert.equal(e.statusCode, 401);
      assert.match(e.title, /Credential\/signature mismatch/);
      return true;
    });
    const unknown = sdkClient(s.url, { accessKey: "AKIAUNKNOWNKEY000000", secretKey: KEY.secretKey! });
    await assert.rejects(unknown.createIfNotExists("script", "nope-2"), (e: SdkError) => e.statusCode === 401);
    await assert401(await signed("GET", "/sessions", { key: { ...KEY, accessKey: "AKIAUNKNOWNKEY000000" } }), "auth-failed", /Access key not found/);
    await assert401(await signed("GET", "/sessions", { key: { ...KEY, secretKey: OTHER.secretKey! } }), "auth-failed", /Signature mismatch/);
  });

  it("accepts a date within 15 minutes either way, and refuses one outside", async () => {
    const now = Date.now();
    assert.equal((await signed("GET", "/sessions", { now: new Date(now - 14 * MINUTE) })).status, 200);
    assert.equal((await signed("GET", "/sessions", { now: new Date(now + 14 * MINUTE) })).status, 200);
    await assert401(await signed("GET", "/sessions", { now: new Date(now - 16 * MINUTE) }), "invalid-auth-params", /Date\/time sync error/);
    await assert401(await signed("GET", "/sessions", { now: new Date(now + 16 * MINUTE) }), "invalid-auth-params", /Date\/time sync error/);
  });

  it("reads the Date header as the manager does: RFC 1123 and ISO 8601 basic too", async () => {
    const when = new Date(Math.floor(Date.now() / 1000) * 1000);
    const iso = when.toISOString().replace(/\.\d{3}Z$/, "Z");
    for (const date of [when.toUTCString(), iso.replaceAll("-", ""), iso.replace("Z", "+00:00")]) {
      const host = new URL(s.url).host;
      const sig = await signature(KEY.secretKey!, { method: "GET", pathWithQuery: "/sessions", date, host, contentType: "application/json", version: API_VERSION });
      const res = await fetch(s.url + "/sessions", {
        headers: { date, "x-backendai-version": API_VERSION, "content-type": "application/json", authorization: authorizationHeader(KEY.accessKey, sig) },
      });
      assert.equal(res.status, 200, `${date}: ${await res.text()}`);
    }
  });

  it("refuses requests missing a credential, a date or the API version, or with a malformed header", async () => {
    await assert401(await fetch(s.url + "/sessions"), "auth-failed", /requires authentication/);
    await assert401(await fetch(s.url + "/no/such/route"), "auth-failed", /requires authentication/);
    await assert401(await signed("GET", "/sessions", { drop: ["Date", "X-BackendAI-Date"] }), "invalid-auth-params", /no Date/);
    await assert401(await signed("GET", "/sessions", { drop: ["X-BackendAI-Version"] }), "invalid-auth-params", /API version missing/);
    const headers = { "x-backendai-date": new Date().toISOString(), "x-backendai-version": API_VERSION };
    await assert401(await fetch(s.url + "/sessions", { headers: { ...headers, authorization: "BackendAI credential=nothing" } }), "invalid-auth-params", /Malformed/);
    await assert401(await fetch(s.url + "/sessions", { headers: { ...headers, authorization: "Basic dXNlcjpwYXNz" } }), "invalid-auth-params", /Malformed/);
  });

  it("refuses a signature made for another path, query, method or host", async () => {
    const sessions = s.url + "/sessions";
    await assert401(await signed("GET", "/sessions?tag=mine", { signUrl: sessions }), "auth-failed", /Signature mismatch/);
    await assert401(await signed("GET", "/session/x/logs", { signUrl: s.url + "/session/y/logs" }), "auth-failed", /Signature mismatch/);
    await assert401(await signed("GET", "/sessions", { signUrl: "http://kiln.example.com:8090/sessions" }), "auth-failed", /Signature mismatch/);
    const headers = await signedHeaders({ method: "GET", url: new URL(sessions), contentType: "application/json", accessKey: KEY.accessKey, secretKey: KEY.secretKey!, version: API_VERSION });
    const asDelete = await fetch(s.url + "/session/whatever", { method: "DELETE", headers: { ...headers, "content-type": "application/json" } });
    await assert401(asDelete, "auth-failed", /Signature mismatch/);
  });

  it("takes a bearer token instead, for curl", async () => {
    const ok = await fetch(s.url + "/sessions", { headers: { authorization: `Bearer ${KEY.token}` } });
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { sessions: [] });
    assert.equal((await fetch(s.url + "/sessions", { headers: { authorization: `bearer ${OTHER.token}` } })).status, 200);
    await assert401(await fetch(s.url + "/sessions", { headers: { authorization: `Bearer ${KEY.token}x` } }), "auth-failed", /Unknown bearer token/);
    await assert401(await fetch(s.url + "/sessions", { headers: { authorization: "Bearer" } }), "invalid-auth-params", /Malformed/);
  });
});
