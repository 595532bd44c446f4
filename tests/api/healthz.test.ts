// GET /healthz: 200 with the kernels available, 503 without any; public.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createApp } from "../../src/app.ts";
import { VERSION } from "../../src/version.ts";
import { Client, makeEnv } from "../helpers/client.ts";
import { scriptKernelFactory } from "../helpers/script-kernel.ts";

const RUNTIME = "Bun" in globalThis ? "bun" : "node";

describe("GET /healthz", () => {
  it("200 with the version, the runtime, each served image's kernel and the live sessions", async () => {
    const env = await makeEnv({ extraKernels: [scriptKernelFactory({ images: ["bash"] })] });
    try {
      const first = await env.client.get("/healthz");
      assert.equal(first.status, 200);
      assert.match(first.contentType, /^application\/json/);
      assert.deepEqual(first.json, {
        status: "ok",
        version: VERSION,
        runtime: { name: RUNTIME, version: first.json.runtime.version },
        kernels: { script: "script", bash: "script" },
        sessions: 0,
      });
      assert.match(first.json.runtime.version, /^\d+\.\d+\.\d+/);
      const id = await env.client.newSession();
      assert.equal((await env.client.get("/healthz")).json.sessions, 1);
      await env.client.destroy(id);
      assert.equal((await env.client.get("/healthz")).json.sessions, 0);
    } finally {
      await env.close();
    }
  });

  it("503 when no kernel is available", async () => {
    const app = createApp({ kernels: [] });
    try {
      const res = await Client.forApp(app).get("/healthz");
      assert.equal(res.status, 503);
      assert.equal(res.json.status, "unavailable");
      assert.deepEqual(res.json.kernels, {});
      assert.equal(res.json.version, VERSION);
    } finally {
      await app.close();
    }
  });

  it("answers without credentials when authentication is on", async () => {
    const app = createApp({ kernels: [scriptKernelFactory()], config: { auth: "on" }, keys: [{ accessKey: "AKIAKILNHEALTHZ00001", token: "kiln-healthz-token-0001" }] });
    try {
      const client = Client.forApp(app);
      assert.equal((await client.get("/healthz")).status, 200);
      assert.equal((await client.get("/sessions")).status, 401);
    } finally {
      await app.close();
    }
  });
});
