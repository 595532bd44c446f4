// A body that arrives a byte a second (slowloris) against a real server with a short
// --request-timeout-ms: a bounded wait, then 408 (or 400) and a closed connection, while
// other requests are answered meanwhile.

import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { startNodeServer, type RunningServer } from "../../src/node.ts";
import { Client } from "../helpers/client.ts";
import { isolateEnv, type Env } from "./harness.ts";

const TIMEOUT_MS = 1500;

describe("protocol: a body a byte a second", () => {
  let env: Env;
  let server: RunningServer;
  before(async () => {
    env = await isolateEnv();
    server = await startNodeServer(env.app, { host: "127.0.0.1", port: 0, requestTimeoutMs: TIMEOUT_MS });
  });
  after(async () => {
    await server?.close();
    await env?.close();
  });

  function slowloris(path: string, headersOnly = false): Promise<{ answer: string; ms: number }> {
    const { port } = new URL(server.url);
    return new Promise((resolve, reject) => {
      const started = Date.now();
      const socket = connect(Number(port), "127.0.0.1");
      let answer = "";
      let timer: ReturnType<typeof setInterval> | undefined;
      const body = '{"mode": "query", "code": "1"}';
      socket.on("connect", () => {
        if (headersOnly) socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\n`);
        else socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
        let i = 0;
        timer = setInterval(() => {
          if (socket.writable) socket.write(headersOnly ? "X" : body[i++ % body.length]!);
        }, 1000);
      });
      socket.on("data", (d) => (answer += d.toString()));
      socket.on("error", () => undefined);
      socket.on("close", () => {
        clearInterval(timer);
        resolve({ answer, ms: Date.now() - started });
      });
      setTimeout(() => {
        clearInterval(timer);
        socket.destroy();
        reject(new Error(`no answer after 20 s: ${answer}`));
      }, 20_000);
    });
  }

  it("is cut off with 408 after a bounded wait while other requests are served", async () => {
    const id = await env.session();
    const client = Client.forUrl(server.url);
    const attacks = [slowloris(`/session/${id}`), slowloris(`/session/${id}`), slowloris("/session"), slowloris(`/session/${id}`, true)];
    // Meanwhile: normal requests answer promptly.
    for (let i = 0; i < 5; i++) {
      const started = Date.now();
      const res = await client.get("/");
      assert.equal(res.status, 200);
      assert.ok(Date.now() - started < 1000, `GET / took ${Date.now() - started} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const run = await client.query(id, "console.log(6 * 7)");
    assert.equal(run.stdout, "42\n");
    for (const { answer, ms } of await Promise.all(attacks)) {
      assert.ok(ms < TIMEOUT_MS * 2 + 6000, `cut off after ${ms} ms`);
      assert.match(answer, /^HTTP\/1\.1 (408|400)|^$/, answer.slice(0, 200));
    }
    await env.healthy(id, "slowloris bodies");
  });
});
