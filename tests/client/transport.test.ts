// The client's transport: what it sends (signed headers, bearer token, a base path,
// a custom fetch such as app.fetch in-process) and every failure that does not come
// as a Kiln problem: no server, no answer in time, an abort, a proxy's HTML error
// page, a 2xx that is not JSON, a foreign problem document.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createApp } from "../../src/app.ts";
import { parseAuthorization, signature } from "../../src/auth/signature.ts";
import { API_VERSION, KilnClient, KilnError } from "../../src/client/index.ts";
import { scriptKernelFactory } from "../helpers/script-kernel.ts";
import { rejectsWith, stdoutOf } from "./assert.ts";

// A stand-in for what sits between a client and Kiln: the first path segment picks its behaviour.
let stub: Server;
let base: string;
const seen: { method: string; url: string; headers: IncomingHttpHeaders }[] = [];

before(async () => {
  stub = createServer((req, res) => {
    seen.push({ method: req.method!, url: req.url!, headers: req.headers });
    const [, behaviour] = req.url!.split("/");
    req.resume();
    switch (behaviour) {
      case "hang":
        return; // never answers
      case "proxy":
        res.writeHead(502, "Bad Gateway", { "content-type": "text/html" }).end("<html><body>upstream down</body></html>");
        return;
      case "text":
        res.writeHead(200, { "content-type": "text/plain" }).end("not json");
        return;
      case "foreign":
        res.writeHead(418, { "content-type": "application/problem+json" }).end(JSON.stringify({ type: "https://example.com/teapot", title: "Teapot", detail: "short and stout" }));
        return;
      default:
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ version: API_VERSION, manager: "stub" }));
    }
  });
  await new Promise<void>((resolve) => stub.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(stub.address() as AddressInfo).port}`;
});
after(async () => {
  stub.closeAllConnections();
  await new Promise((resolve) => stub.close(resolve));
});

describe("client: transport", () => {
  it("signs every request with a keypair so that the signature verifies", async () => {
    const kiln = new KilnClient({ url: `${base}/ok`, accessKey: "AKIAKILNCLIENTTEST01", secretKey: "client-secret" });
    await kiln.session("demo").listFiles("lib dir").catch(() => undefined);
    const request = seen.at(-1)!;
    assert.equal(request.url, "/ok/session/demo/files?path=lib+dir");
    const auth = parseAuthorization(request.headers.authorization!);
    assert.equal(auth?.accessKey, "AKIAKILNCLIENTTEST01");
    assert.equal(request.headers["x-backendai-version"], API_VERSION);
    assert.equal(request.headers.date, request.headers["x-backendai-date"]);
    const expected = await signature("client-secret", {
      method: "GET",
      pathWithQuery: request.url,
      date: request.headers.date!,
      host: request.headers.host!,
      contentType: request.headers["content-type"]!,
      version: API_VERSION,
    });
    assert.equal(auth?.signature, expected);
  });

  it("sends a token as Authorization: Bearer, and nothing without credentials", async () => {
    await new KilnClient({ url: base, token: "tok-123" }).version();
    assert.equal(seen.at(-1)!.headers.authorization, "Bearer tok-123");
    await new KilnClient({ url: base }).version();
    assert.equal(seen.at(-1)!.headers.authorization, undefined);
    assert.throws(() => new KilnClient({ url: base, token: "t", accessKey: "a", secretKey: "s" }), /not both/);
    assert.throws(() => new KilnClient({ url: base, accessKey: "a" }), /go together/);
    assert.throws(() => new KilnClient({ url: "ftp://kiln" }), /Not an http/);
  });

  it("serves an app in-process through a custom fetch", async () => {
    const app = createApp({ kernels: [scriptKernelFactory()] });
    try {
      const kiln = new KilnClient({ url: "http://kiln.internal", fetch: (request) => app.fetch(request) });
      const session = await kiln.createSession({ lang: "script" });
      assert.equal(await stdoutOf(session.run({ mode: "query", code: "print in process" })), "in process\n");
      assert.deepEqual((await kiln.sessions()).map((s) => s.sessionId), [session.id]);
    } finally {
      await app.close();
    }
  });

  it("throws network-error (status 0) when nothing listens", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const error = await rejectsWith(new KilnClient({ url: `http://127.0.0.1:${port}` }).version(), 0, "network-error");
    assert.match(error.message, /Cannot reach http:\/\/127\.0\.0\.1:\d+/);
    assert.ok(error.cause);
  });

  it("throws timeout when no answer comes within timeoutMs, aborted when the caller aborts", async () => {
    await rejectsWith(new KilnClient({ url: `${base}/hang`, timeoutMs: 200 }).version(), 0, "timeout");
    const controller = new AbortController();
    const pending = new KilnClient({ url: `${base}/hang`, timeoutMs: 0 }).session("x").execute({ mode: "query", code: "" }, controller.signal);
    controller.abort();
    await rejectsWith(pending, 0, "aborted");
  });

  it("maps a non-problem error page to http-error with its status and text", async () => {
    const error = await rejectsWith(new KilnClient({ url: `${base}/proxy` }).version(), 502, "http-error");
    assert.equal(error.title, "Bad Gateway");
    assert.equal(error.type, "about:blank");
    assert.match(error.msg ?? "", /upstream down/);
  });

  it("maps a 2xx that is not what the endpoint promises to bad-response", async () => {
    await rejectsWith(new KilnClient({ url: `${base}/text` }).version(), 200, "bad-response");
    await rejectsWith(new KilnClient({ url: `${base}/ok` }).session("x").execute({ mode: "query", code: "" }), 200, "bad-response");
  });

  it("keeps a foreign problem document's type, title and detail", async () => {
    const error = await rejectsWith(new KilnClient({ url: `${base}/foreign` }).version(), 418, "https://example.com/teapot");
    assert.equal(error.title, "Teapot");
    assert.equal(error.msg, "short and stout");
    assert.ok(error instanceof KilnError && error.name === "KilnError");
  });
});
