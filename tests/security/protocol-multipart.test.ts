// Hostile multipart uploads: 10,000 parts, a 1 MB part header, a missing or absurd
// boundary, a body that never closes its last part, a part over the size limit.
// Each is refused promptly, nothing is written, and the server serves on.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { assertAnyProblem, bytesOf, concat } from "../helpers/client.ts";
import { isolateEnv, type Env } from "./harness.ts";

describe("protocol: hostile multipart", () => {
  let env: Env;
  before(async () => (env = await isolateEnv()));
  after(() => env?.close());

  const send = (id: string, body: BodyInit, boundary = "kb") =>
    env.client.call("POST", `/session/${id}/upload`, { body, headers: { "content-type": `multipart/form-data; boundary=${boundary}` } });

  it("10,000 parts are refused quickly", async () => {
    const id = await env.session();
    const parts: string[] = [];
    for (let i = 0; i < 10_000; i++) parts.push(`--kb\r\nContent-Disposition: form-data; name="src"; filename="f${i}.txt"\r\n\r\nx\r\n`);
    const started = Date.now();
    const res = await send(id, parts.join("") + "--kb--\r\n");
    assertAnyProblem(res, 400);
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
    assert.deepEqual(await env.client.tree(id), []);
    await env.healthy(id, "10,000 parts");
  });

  it("a 1 MB part header is refused", async () => {
    const id = await env.session();
    const header = `--kb\r\nContent-Disposition: form-data; name="src"; filename="a.txt"\r\nX-Padding: ${"p".repeat(1 << 20)}\r\n\r\nx\r\n--kb--\r\n`;
    assertAnyProblem(await send(id, header), 400);
    const longName = `--kb\r\nContent-Disposition: form-data; name="src"; filename="${"n".repeat(1 << 20)}"\r\n\r\nx\r\n--kb--\r\n`;
    assertAnyProblem(await send(id, longName), 400);
    assert.deepEqual(await env.client.tree(id), []);
    await env.healthy(id, "a 1 MB part header");
  });

  it("broken framing, absurd boundaries and oversized parts are 4xx, never 500", async () => {
    const id = await env.session();
    const cases: Array<[string, BodyInit, string]> = [
      ["no closing boundary", '--kb\r\nContent-Disposition: form-data; name="src"; filename="a.txt"\r\n\r\nxxxx', "kb"],
      ["no parts", "--kb--\r\n", "kb"],
      ["garbage", "hello", "kb"],
      ["a 100 KB boundary", "--" + "b".repeat(100_000) + "\r\n\r\n", "b".repeat(100_000)],
      ["a part with no filename", '--kb\r\nContent-Disposition: form-data; name="src"\r\n\r\nx\r\n--kb--\r\n', "kb"],
      ["a part over 1 MiB", concat([bytesOf('--kb\r\nContent-Disposition: form-data; name="src"; filename="big"\r\n\r\n'), new Uint8Array((1 << 20) + 10), bytesOf("\r\n--kb--\r\n")]), "kb"],
    ];
    for (const [what, body, boundary] of cases) {
      const res = await send(id, body, boundary);
      if (what === "no parts" && res.status === 204) continue; // an empty upload is a no-op
      assert.ok(res.status >= 400 && res.status < 500, `${what}: ${res.status} ${res.text.slice(0, 200)}`);
    }
    const noBoundary = await env.client.call("POST", `/session/${id}/upload`, { body: "x", headers: { "content-type": "multipart/form-data" } });
    assert.ok(noBoundary.status >= 400 && noBoundary.status < 500, `no boundary: ${noBoundary.status}`);
    assert.deepEqual(await env.client.tree(id), []);
    await env.healthy(id, "broken multipart");
  });
});
