// Structured logs: one JSON line per request with its request id (also in the
// X-Request-Id header), unexpected errors with their stack, and --log-level.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createApp, type KilnApp } from "../../src/app.ts";
import { OPTIONS, parseConfig, type KilnConfigInput } from "../../src/config.ts";
import type { KernelFactory } from "../../src/kernels/kernel.ts";
import { Client, UUID_V4, uniqueName } from "../helpers/client.ts";
import { scriptKernelFactory } from "../helpers/script-kernel.ts";
import { serveApp } from "../helpers/serve.ts";

interface Line {
  time: string;
  level: string;
  msg: string;
  reqId: string;
  [field: string]: unknown;
}

/** An app whose log lines are collected, parsed. */
async function logged<T>(config: KilnConfigInput, body: (client: Client, lines: Line[], app: KilnApp) => Promise<T>, kernels: KernelFactory[] = [scriptKernelFactory()]): Promise<T> {
  const lines: Line[] = [];
  const app = createApp({ kernels, config, log: (line) => lines.push(JSON.parse(line) as Line) });
  try {
    return await body(Client.forApp(app), lines, app);
  } finally {
    await app.close();
  }
}

/** The script kernel, except that completion fails as a bug would: an error no layer expects. */
function failingCompletion(): KernelFactory {
  const base = scriptKernelFactory();
  return {
    ...base,
    async create(context) {
      const kernel = await base.create(context);
      return Object.assign(kernel, {
        complete: async (): Promise<string[]> => {
          throw new TypeError("completion exploded");
        },
      });
    },
  };
}

describe("request logs", () => {
  it("one JSON line per request: time, level, reqId, method, path, status, ms, and the session when the path names one", async () => {
    await logged({}, async (client, lines) => {
      const name = uniqueName("log");
      const created = await client.createSession({ lang: "script", clientSessionToken: name });
      const info = await client.info(name);
      const missing = await client.get("/no/such/route");
      assert.equal(lines.length, 3);
      const [a, b, c] = lines as [Line, Line, Line];
      assert.deepEqual(
        lines.map((l) => [l.level, l.msg, l.method, l.path, l.status, l.session]),
        [
          ["info", "request", "POST", "/session", 201, undefined],
          ["info", "request", "GET", `/session/${name}`, 200, name],
          ["warn", "request", "GET", "/no/such/route", 404, undefined],
        ],
      );
      for (const [line, res] of [
        [a, created],
        [b, info],
        [c, missing],
      ] as const) {
        assert.match(line.reqId, UUID_V4);
        assert.equal(res.headers.get("x-request-id"), line.reqId);
        assert.ok(new Date(line.time).toISOString() === line.time);
        assert.ok(typeof line.ms === "number" && line.ms >= 0);
      }
      assert.equal(new Set(lines.map((l) => l.reqId)).size, 3);
    });
  });

  it("keeps a sane incoming X-Request-Id and replaces any other", async () => {
    await logged({}, async (client, lines) => {
      const kept = await client.get("/", { headers: { "x-request-id": "edge-42_a=b" } });
      assert.equal(kept.headers.get("x-request-id"), "edge-42_a=b");
      const answered = [kept.headers.get("x-request-id")];
      for (const bad of ["two words", "x".repeat(256), 'quote"d', ""]) {
        const res = await client.get("/", { headers: { "x-request-id": bad } });
        assert.match(res.headers.get("x-request-id") ?? "", UUID_V4, JSON.stringify(bad));
        answered.push(res.headers.get("x-request-id"));
      }
      assert.deepEqual(
        lines.map((l) => l.reqId),
        answered,
      );
    });
  });

  it("an unexpected error is logged with its stack and the request's id; its answer carries the id", async () => {
    await logged(
      {},
      async (client, lines) => {
        const id = await client.newSession();
        const res = await client.post(`/session/${id}/complete`, { json: { code: "pr" } });
        assert.equal(res.status, 500);
        const reqId = res.headers.get("x-request-id");
        assert.match(reqId ?? "", UUID_V4);
        const error = lines.find((l) => l.level === "error");
        assert.ok(error, JSON.stringify(lines));
        assert.equal(error.msg, "unexpected error");
        assert.equal(error.reqId, reqId);
        const err = error.err as { type: string; message: string; stack: string };
        assert.deepEqual([err.type, err.message], ["TypeError", "completion exploded"]);
        assert.match(err.stack, /completion exploded\n\s+at /);
        // The request's own line follows, a warning like every refused request.
        assert.deepEqual(
          lines.filter((l) => l.reqId === reqId).map((l) => [l.level, l.msg]),
          [
            ["error", "unexpected error"],
            ["warn", "request"],
          ],
        );
      },
      [failingCompletion()],
    );
  });

  it("--log-level filters: warn keeps refused requests, error only unexpected errors, silent nothing", async () => {
    const traffic = async (client: Client) => {
      const id = await client.newSession();
      await client.get("/");
      await client.info("no-such-session");
      await client.post(`/session/${id}/complete`, { json: { code: "" } });
    };
    const levels = async (logLevel: "debug" | "warn" | "error" | "silent") =>
      logged({ logLevel }, async (client, lines) => {
        await traffic(client);
        return lines.map((l) => `${l.level} ${l.msg} ${l.status ?? ""}`.trim());
      }, [failingCompletion()]);
    assert.deepEqual(await levels("debug"), ["info request 201", "info request 200", "warn request 404", "error unexpected error", "warn request 500"]);
    assert.deepEqual(await levels("warn"), ["warn request 404", "error unexpected error", "warn request 500"]);
    assert.deepEqual(await levels("error"), ["error unexpected error"]);
    assert.deepEqual(await levels("silent"), []);
  });

  it("is an option: --log-level / KILN_LOG_LEVEL, info by default, one of five levels", () => {
    assert.equal(parseConfig({}).logLevel, "info");
    assert.equal(parseConfig({ logLevel: "debug" }).logLevel, "debug");
    assert.throws(() => parseConfig({ logLevel: "verbose" }), /--log-level \/ KILN_LOG_LEVEL: must be one of debug, info, warn, error, silent/);
    assert.ok(OPTIONS.some((o) => o.key === "logLevel" && o.flag === "--log-level" && o.env === "KILN_LOG_LEVEL"));
  });

  it("X-Request-Id over a real HTTP server too", async () => {
    await logged({}, async (_client, lines, app) => {
      const server = await serveApp(app);
      try {
        const res = await fetch(`${server.url}/healthz`, { headers: { "x-request-id": "from-proxy-1" } });
        await res.arrayBuffer();
        assert.equal(res.headers.get("x-request-id"), "from-proxy-1");
        assert.deepEqual(
          lines.map((l) => [l.reqId, l.path, l.status]),
          [["from-proxy-1", "/healthz", 200]],
        );
      } finally {
        await server.close();
      }
    });
  });
});
