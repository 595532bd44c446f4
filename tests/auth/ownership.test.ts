// Sessions belong to the key that created them: to every other key they do not
// exist (404, as a missing session), by UUID or by name, for every route; names
// are per key, so two keys may each have a "demo".

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { authServer, bearer, KEY, OTHER, type AuthServer } from "./harness.ts";

let s: AuthServer;
before(async () => {
  s = await authServer();
});
after(() => s.close());

const call = (token: string, method: string, path: string, body?: unknown) => bearer(s.url, token, method, path, body);

async function create(token: string, name: string): Promise<string> {
  const res = await call(token, "POST", "/session", { lang: "script", clientSessionToken: name });
  assert.equal(res.status, 201, await res.clone().text());
  return ((await res.json()) as { sessionId: string }).sessionId;
}

async function assertMissing(res: Response): Promise<void> {
  assert.equal(res.status, 404);
  assert.equal(((await res.json()) as { type: string }).type, "https://api.backend.ai/probs/object-not-found");
}

describe("session ownership", () => {
  it("another key gets 404 for a session by UUID and by name, on every route, and changes nothing", async () => {
    const id = await create(KEY.token!, "mine");
    for (const ref of [id, "mine"]) {
      await assertMissing(await call(OTHER.token!, "GET", `/session/${ref}`));
      await assertMissing(await call(OTHER.token!, "POST", `/session/${ref}`, { mode: "query", code: "echo hi" }));
      await assertMissing(await call(OTHER.token!, "PATCH", `/session/${ref}`));
      await assertMissing(await call(OTHER.token!, "POST", `/session/${ref}/interrupt`));
      await assertMissing(await call(OTHER.token!, "GET", `/session/${ref}/logs`));
      await assertMissing(await call(OTHER.token!, "GET", `/session/${ref}/files?path=/home/work`));
      await assertMissing(await call(OTHER.token!, "POST", `/session/${ref}/download_single`, { file: "x" }));
      await assertMissing(await call(OTHER.token!, "DELETE", `/session/${ref}`));
    }
    // The owner still has it, untouched.
    assert.equal((await call(KEY.token!, "GET", `/session/mine`)).status, 200);
    assert.equal((await call(KEY.token!, "DELETE", `/session/${id}`)).status, 200);
  });

  it("names are per key: each key's \"demo\" is its own session", async () => {
    const a = await create(KEY.token!, "demo");
    const b = await create(OTHER.token!, "demo");
    assert.notEqual(a, b);
    const infoA = (await (await call(KEY.token!, "GET", "/session/demo")).json()) as Record<string, unknown>;
    const infoB = (await (await call(OTHER.token!, "GET", "/session/demo")).json()) as Record<string, unknown>;
    assert.notDeepEqual(infoA, infoB);
    // Reuse by name stays within the key.
    assert.equal(await createReused(KEY.token!, "demo"), a);
    await call(KEY.token!, "DELETE", `/session/${a}`);
    await call(OTHER.token!, "DELETE", `/session/${b}`);
  });

  it("GET /sessions lists only the caller's sessions", async () => {
    const a = await create(KEY.token!, "listed-a");
    const b = await create(OTHER.token!, "listed-b");
    const ids = async (token: string) => ((await (await call(token, "GET", "/sessions")).json()) as { sessions: { sessionId: string }[] }).sessions.map((x) => x.sessionId);
    assert.deepEqual(await ids(KEY.token!), [a]);
    assert.deepEqual(await ids(OTHER.token!), [b]);
    await call(KEY.token!, "DELETE", `/session/${a}`);
    await call(OTHER.token!, "DELETE", `/session/${b}`);
  });
});

async function createReused(token: string, name: string): Promise<string> {
  const res = await call(token, "POST", "/session", { lang: "script", clientSessionToken: name });
  assert.ok(res.ok, await res.clone().text());
  return ((await res.json()) as { sessionId: string }).sessionId;
}
