// Malformed and huge JSON bodies, bodies over every limit, wrong content types and
// deeply nested values: clear 4xx answers, never a 500, and the server serves on.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { assertAnyProblem } from "../helpers/client.ts";
import { isolateEnv, type Env } from "./harness.ts";

const LIMIT = 64 * 1024;

describe("protocol: malformed and huge JSON", () => {
  let env: Env;
  before(async () => (env = await isolateEnv({ config: { bodyLimitBytes: LIMIT } })));
  after(() => env?.close());

  it("is a 4xx problem every time", async () => {
    const id = await env.session();
    const bodies: Array<[string, BodyInit, number[]]> = [
      ["truncated", '{"mode": "query", "code": "1', [400]],
      ["not JSON", "mode=query&code=1", [400]],
      ["an array", "[1, 2, 3]", [400]],
      ["a string", '"query"', [400]],
      ["null", "null", [400]],
      ["NaN", '{"mode": NaN}', [400]],
      ["a lone surrogate", '{"mode": "query", "code": "\\ud800"}', [200, 400]],
      ["binary", new Uint8Array([0xff, 0xfe, 0x00, 0x7b, 0x22]), [400]],
      ["deep nesting", "[".repeat(100_000) + "]".repeat(100_000), [400, 413]],
      ["deep nesting inside the limit", '{"mode":"query","code":"1","options":' + "[".repeat(20_000) + "]".repeat(20_000) + "}", [200, 400]],
      ["over the limit", JSON.stringify({ mode: "query", code: "x".repeat(LIMIT * 4) }), [413]],
      ["a huge number", '{"mode": "query", "runId": 1e999999}', [400]],
      ["duplicate keys", '{"mode": "query", "mode": "batch", "code": "1"}', [200, 400]],
      ["__proto__", '{"__proto__": {"mode": "query"}, "constructor": {"prototype": {"polluted": 1}}, "code": "1"}', [400]],
    ];
    for (const [what, body, statuses] of bodies) {
      const res = await env.client.call("POST", `/session/${id}`, { body, headers: { "content-type": "application/json" } });
      assert.ok(statuses.includes(res.status), `${what}: ${res.status} ${res.text.slice(0, 200)}`);
      if (res.status >= 400) assertAnyProblem(res, res.status);
    }
    assert.equal(({} as any).polluted, undefined);
    // The same bodies on session creation and on the file routes.
    for (const path of ["/session", "/session/_/create", `/session/${id}/download`, `/session/${id}/download_single`, `/session/${id}/complete`]) {
      for (const body of ['{"lang": ', "[".repeat(50_000), "x".repeat(LIMIT + 1)]) {
        const res = await env.client.call("POST", path, { body, headers: { "content-type": "application/json" } });
        assert.ok(res.status === 400 || res.status === 413, `${path}: ${res.status} ${res.text.slice(0, 200)}`);
      }
    }
    const wrongType = await env.client.call("POST", `/session/${id}`, { body: '{"mode":"query","code":"1"}', headers: { "content-type": "application/x-www-form-urlencoded" } });
    assert.equal(wrongType.status, 415);
    const lying = await env.client.call("POST", `/session/${id}`, { body: "{}", headers: { "content-type": "application/json", "content-length": String(LIMIT * 1000) } });
    assert.ok(lying.status === 413 || lying.status === 400, `a lying content-length: ${lying.status}`);
    await env.healthy(id, "malformed JSON");
  });
});
