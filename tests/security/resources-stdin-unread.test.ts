// A program that never reads stdin while the client sends input: the input is refused
// with a 400 (the run is not waiting for it), nothing blocks, the run ends normally.
// The isolate kernel's variant is in tests/kernels/isolate-attacks.test.ts.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { assertProblem } from "../helpers/client.ts";
import { kinds, type Env } from "./harness.ts";

for (const k of await kinds(["podman"])) {
  describe(`${k.kind}: input a program never reads`, { skip: k.skip }, () => {
    let env: Env;
    before(async () => (env = await k.start()));
    after(() => env?.close());

    it("is refused and the run still finishes", async () => {
      const id = await env.session();
      const first = await env.client.exec(id, { mode: "batch", runId: null, code: "", options: { exec: "sleep 1; echo done" } });
      const big = "y".repeat(1 << 20);
      const answers = await Promise.all(Array.from({ length: 20 }, () => env.client.execute(id, { mode: "input", runId: first.runId, code: big })));
      for (const res of answers) assertProblem(res, 400, "invalid-api-params");
      let result = first;
      let stdout = "";
      while (result.status !== "finished") {
        result = await env.client.exec(id, { mode: "continue", runId: first.runId, code: "" });
        stdout += result.console.filter(([kind]) => kind === "stdout").map(([, d]) => d).join("");
      }
      assert.equal(result.exitCode, 0);
      assert.equal(stdout, "done\n");
      // A program that reads 10 bytes and stops reading, sent a 1 MiB line: it finishes, the rest is dropped.
      const reader = await env.client.exec(id, { mode: "batch", runId: "reader", code: "", options: { exec: "head -c 10; echo; echo read" } });
      let r = reader;
      while (r.status !== "waiting-input") r = await env.client.exec(id, { mode: "continue", runId: "reader", code: "" });
      r = await env.client.exec(id, { mode: "input", runId: "reader", code: big });
      let out = r.console.filter(([kind]) => kind === "stdout").map(([, d]) => d).join("");
      while (r.status !== "finished") {
        r = await env.client.exec(id, { mode: "continue", runId: "reader", code: "" });
        out += r.console.filter(([kind]) => kind === "stdout").map(([, d]) => d).join("");
      }
      assert.equal(out, "yyyyyyyyyy\nread\n");
      assert.equal(r.exitCode, 0);
      await env.healthy(id, "unread input");
    });
  });
}
