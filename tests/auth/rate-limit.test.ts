// Rate limits over real HTTP with an injected clock: X-RateLimit-* headers on
// every authenticated answer, 429 rate-limit-exceeded with Retry-After past the
// limit, a rolling window, a key's own limit, and anonymous clients by address.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createApp } from "../../src/app.ts";
import { RateLimiter } from "../../src/auth/rate-limiter.ts";
import { scriptKernelFactory } from "../helpers/script-kernel.ts";
import { serveApp } from "../helpers/serve.ts";
import { authServer, KEY, OTHER, type AuthServer } from "./harness.ts";

const WINDOW = 60_000;
/** The start of a fixed window, so the arithmetic below is exact. */
const T0 = 1_000_000 * WINDOW;

describe("rate limits", () => {
  let s: AuthServer;
  let clock = T0;
  const SLOW = { accessKey: "AKIAKILNSLOWKEY00003", token: "kiln-test-bearer-token-0003", rateLimit: 1 };
  before(async () => {
    s = await authServer({ config: { rateLimit: 3, rateLimitWindowMs: WINDOW }, keys: [KEY, OTHER, SLOW], now: () => clock });
  });
  after(() => s.close());

  const get = (path: string, token = KEY.token) => fetch(s.url + path, { headers: { authorization: `Bearer ${token}` } });
  const limits = (res: Response) => [res.headers.get("x-ratelimit-limit"), res.headers.get("x-ratelimit-remaining"), res.headers.get("x-ratelimit-window")];

  it("counts requests per key in a rolling window, then answers 429 until it has rolled", async () => {
    clock = T0;
    assert.deepEqual(limits(await get("/sessions")), ["3", "2", "60"]);
    // Error answers count and carry the headers too.
    const missing = await get("/session/no-such-session");
    assert.equal(missing.status, 404);
    assert.deepEqual(limits(missing), ["3", "1", "60"]);
    assert.deepEqual(limits(await get("/sessions")), ["3", "0", "60"]);

    const refused = await get("/sessions");
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get("content-type"), "application/problem+json");
    assert.equal(((await refused.json()) as { type: string }).type, "https://api.backend.ai/probs/rate-limit-exceeded");
    assert.deepEqual(limits(refused), ["3", "0", "60"]);
    // This window's 3 become the previous window's, which must shrink to 2: 60 s + 20 s.
    assert.equal(refused.headers.get("retry-after"), "80");

    // Another key has its own count.
    assert.deepEqual(limits(await get("/sessions", OTHER.token)), ["3", "2", "60"]);

    // At the next window's start the previous 3 still weigh fully; 20 s later they weigh 2.
    clock = T0 + WINDOW;
    const early = await get("/sessions");
    assert.equal(early.status, 429);
    assert.equal(early.headers.get("retry-after"), "20");
    clock = T0 + WINDOW + 20_000;
    assert.deepEqual(limits(await get("/sessions")), ["3", "0", "60"]);
    clock = T0 + 3 * WINDOW;
    assert.deepEqual(limits(await get("/sessions")), ["3", "2", "60"]);
  });

  it("gives a key its own rateLimit from the keys file", async () => {
    clock = T0 + 10 * WINDOW;
    assert.deepEqual(limits(await get("/sessions", SLOW.token)), ["1", "0", "60"]);
    assert.equal((await get("/sessions", SLOW.token)).status, 429);
  });

  it("leaves GET / and unauthenticated answers out", async () => {
    clock = T0 + 20 * WINDOW;
    for (let i = 0; i < 5; i++) assert.equal((await fetch(s.url + "/")).headers.get("x-ratelimit-limit"), null);
    assert.equal((await get("/sessions", "not-a-valid-token-at-all")).status, 401);
    assert.deepEqual(limits(await get("/sessions")), ["3", "2", "60"]);
  });
});

describe("anonymous rate limits (authentication off)", () => {
  it("share one count per client address over HTTP, and one in process where there is no address", async () => {
    const clock = T0;
    const app = createApp({ config: { anonymousRateLimit: 2, rateLimitWindowMs: WINDOW }, kernels: [scriptKernelFactory()], now: () => clock });
    const server = await serveApp(app);
    try {
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await fetch(server.url + "/sessions")).status);
      assert.deepEqual(statuses, [200, 200, 429]);
      // app.fetch has no peer address: its requests share the "anonymous" count, apart from 127.0.0.1's.
      const inProcess = await app.fetch(new Request("http://kiln/sessions"));
      assert.equal(inProcess.status, 200);
      assert.equal(inProcess.headers.get("x-ratelimit-remaining"), "1");
    } finally {
      await server.close();
      await app.close();
    }
  });
});

describe("RateLimiter memory", () => {
  it("forgets clients idle for two windows and keeps at most maxClients", () => {
    let now = T0;
    const limiter = new RateLimiter({ windowMs: WINDOW, now: () => now, maxClients: 100 });
    for (let i = 0; i < 1000; i++) limiter.take(`ip:${i}`, 10);
    assert.equal(limiter.tracked, 100);
    now = T0 + 2 * WINDOW;
    limiter.take("ip:late", 10);
    assert.equal(limiter.tracked, 1);
  });
});
