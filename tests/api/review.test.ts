// Review findings on the session server: each test fails on the code as reviewed
// and passes with the fixes proposed alongside it (see the review report).

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp } from "../../src/app.ts";
import { parseConfig } from "../../src/config.ts";
import type { Kernel, KernelFactory, StepIO } from "../../src/kernels/kernel.ts";
import {
  assertProblem,
  bytesOf,
  Client,
  makeEnv,
  readResponse,
  sleep,
  unzip,
  type TestEnv,
} from "../helpers/client.ts";
import { scriptKernelFactory } from "../helpers/script-kernel.ts";

/** A kernel for failure paths: what it does is set per test through `behaviour`. */
function oddKernelFactory() {
  const behaviour = { htmlItems: 0, restartThrows: false, statsThrows: false };
  const state = { destroyed: 0 };
  const factory: KernelFactory = {
    name: "odd",
    images: ["odd"],
    vfs: "memory",
    async create(): Promise<Kernel> {
      return {
        async step() {
          return 0;
        },
        async query(_code: string, io: StepIO) {
          for (let i = 0; i < behaviour.htmlItems; i++) io.emit(["html", `<p>${"x".repeat(100)}</p>`]);
          return 0;
        },
        async complete() {
          return [];
        },
        async restart() {
          if (behaviour.restartThrows) throw new Error("the sandbox is gone");
        },
        async destroy() {
          state.destroyed++;
        },
        stats() {
          if (behaviour.statsThrows) throw new Error("cgroup file vanished");
          return {};
        },
      };
    },
  };
  return { factory, behaviour, state };
}

describe("review: download as zip", () => {
  let env: TestEnv;
  before(async () => {
    env = await makeEnv();
  });
  after(() => env.close());

  it("two paths with the same base name give a clean 4xx or a complete zip, never a broken 200", async () => {
    const { client } = env;
    const id = await client.newSession();
    await client.put(id, { "a/x.txt": "from a", "b/x.txt": "from b" });
    const res = await client.raw("GET", `/session/${id}/download`, { query: { files: ["a/x.txt", "b/x.txt"], format: "zip" } });
    let buffer: ArrayBuffer;
    try {
      buffer = await res.arrayBuffer();
    } catch (error) {
      assert.fail(`status ${res.status}, but the body broke off: ${error}`);
    }
    if (res.status === 200) {
      const entries = await unzip(new Uint8Array(buffer));
      assert.equal(entries.size, 2, `entries: ${[...entries.keys()]}`);
    } else {
      assertProblem(await readResponse(new Response(buffer, { status: res.status, headers: res.headers })), 400, "invalid-api-params");
    }
  });
});

describe("review: disk quota", () => {
  let env: TestEnv;
  before(async () => {
    env = await makeEnv({ vfs: "disk", config: { sessionMaxBytes: 1500 } });
  });
  after(() => env.close());

  it("concurrent uploads cannot together go past the session's byte quota", async () => {
    const { client } = env;
    const id = await client.newSession();
    const answers = await Promise.all(
      [0, 1, 2].map((i) => client.upload(id, [{ filename: `f${i}.txt`, data: "x".repeat(1000) }])),
    );
    const statuses = answers.map((r) => r.status).sort();
    assert.deepEqual(statuses, [204, 412, 412]);
    const info = await client.info(id);
    assert.ok(info.json.usage.bytes <= 1500, `usage ${JSON.stringify(info.json.usage)}`);
  });
});

describe("review: data directory", () => {
  it("a disk session can be created when the data directory does not exist yet", async () => {
    const base = await mkdtemp(join(tmpdir(), "kiln-review-"));
    const app = createApp({
      config: { dataDir: join(base, "not", "yet") },
      kernels: [scriptKernelFactory({ vfs: "disk" })],
    });
    try {
      const res = await Client.forApp(app).createSession({ lang: "script", clientSessionToken: "fresh-data-dir" });
      assert.equal(res.status, 201, res.text);
    } finally {
      await app.close();
      await rm(base, { recursive: true, force: true });
    }
  });
});

describe("review: a session deleted while a request was in flight", () => {
  let env: TestEnv;
  before(async () => {
    env = await makeEnv();
  });
  after(() => env.close());

  it("an execute whose body arrives after DELETE is a 404, not a run on the destroyed kernel", async () => {
    const { client, app } = env;
    const id = await client.newSession();
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        controller = c;
      },
    });
    const pending = app.fetch(
      new Request(`http://kiln/session/${id}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
        duplex: "half",
      } as RequestInit),
    );
    await sleep(20);
    assert.equal((await client.destroy(id)).status, 200);
    controller.enqueue(bytesOf(JSON.stringify({ mode: "query", runId: null, code: "print ran after delete" })));
    controller.close();
    const res = await readResponse(await pending);
    assertProblem(res, 404, "object-not-found", { title: "No such session." });
  });
});

describe("review: console cap", () => {
  it("a flood of rich items (html) is bounded like stdout, not held whole, and the loss is marked", async () => {
    const odd = oddKernelFactory();
    odd.behaviour.htmlItems = 50_000; // what `for (;;) display(html)` does in a second or two
    const env = await makeEnv({ config: { flushIntervalMs: 200 }, extraKernels: [odd.factory] });
    try {
      const id = await env.client.newSession({ lang: "odd" });
      const log = await env.client.query(id, "go");
      const items = log.results.flatMap((r) => r.console).filter(([kind]) => kind === "html").length;
      assert.ok(items < 50_000, `all ${items} html items were buffered and delivered in one answer`);
      assert.match(log.stdout + log.stderr, /truncated|dropped/);
    } finally {
      await env.close();
    }
  });
});

describe("review: request bodies", () => {
  it("a body that breaks off mid-read is a 4xx, not a 500 reported as unexpected", async () => {
    const reported: unknown[] = [];
    const app = createApp({ kernels: [scriptKernelFactory()], config: { logLevel: "error" }, log: (line) => reported.push(line) });
    try {
      const body = new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(bytesOf('{"lang": "scr'));
        },
        pull(c) {
          c.error(new Error("aborted"));
        },
      });
      const res = await readResponse(
        await app.fetch(
          new Request("http://kiln/session", {
            method: "POST",
            headers: { "content-type": "application/json" },
            body,
            duplex: "half",
          } as RequestInit),
        ),
      );
      assert.ok(res.status >= 400 && res.status < 500, `${res.status} ${res.text}`);
      assert.deepEqual(reported, []);
    } finally {
      await app.close();
    }
  });
});

describe("review: kernel failures", () => {
  it("a restart the kernel cannot do → 500 kernel-restart-failed, and the session keeps serving", async () => {
    const odd = oddKernelFactory();
    const env = await makeEnv({ extraKernels: [odd.factory] });
    try {
      const id = await env.client.newSession({ lang: "odd" });
      odd.behaviour.restartThrows = true;
      assertProblem(await env.client.restart(id), 500, "kernel-restart-failed");
      const info = await env.client.info(id);
      assert.equal(info.json.status, "RUNNING");
    } finally {
      await env.close();
    }
  });

  it("DELETE frees the kernel and answers 200 even when the kernel's stats() throws", async () => {
    const odd = oddKernelFactory();
    const env = await makeEnv({ extraKernels: [odd.factory] });
    try {
      const id = await env.client.newSession({ lang: "odd" });
      odd.behaviour.statsThrows = true;
      const res = await env.client.destroy(id);
      assert.equal(res.status, 200, res.text);
      assert.equal(odd.state.destroyed, 1);
    } finally {
      await env.close();
    }
  });

  it("idle collection frees such a session and does not reject (it runs from a timer with nobody awaiting it)", async () => {
    const odd = oddKernelFactory();
    const env = await makeEnv({ extraKernels: [odd.factory] });
    try {
      await env.client.newSession({ lang: "odd" });
      odd.behaviour.statsThrows = true;
      await env.app.registry.collectIdle(Date.now() + 365 * 24 * 3600 * 1000);
      assert.equal(env.app.registry.size, 0);
      assert.equal(odd.state.destroyed, 1);
    } finally {
      await env.close();
    }
  });
});

describe("review: configuration", () => {
  it("a flush interval beyond what setTimeout can wait is refused (Node would fire it after 1 ms)", () => {
    assert.throws(() => parseConfig({ flushIntervalMs: 2 ** 31 }), /flush-interval-ms/);
  });
});

// Node's own server only: Bun.serve has no request timeout.
if (!("Bun" in globalThis)) {
  describe("review: node server", () => {
    it("--request-timeout-ms cuts off a stalled body in about that time, not at Node's 30 s check interval", async () => {
      const net = await import("node:net");
      const { startNodeServer } = await import("../../src/node.ts");
      const app = createApp({ kernels: [scriptKernelFactory()], log: () => {} });
      const server = await startNodeServer(app, { host: "127.0.0.1", port: 0, requestTimeoutMs: 1000 });
      const socket = net.connect(Number(new URL(server.url).port), "127.0.0.1");
      try {
        const started = Date.now();
        socket.write('POST /session HTTP/1.1\r\nHost: kiln\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"lang":');
        socket.resume();
        const closed = new Promise<number>((resolve) => socket.on("close", () => resolve(Date.now() - started)));
        const elapsed = await Promise.race([closed, sleep(8000).then(() => Infinity)]);
        assert.ok(elapsed < 5000, `the stalled request was still open after ${elapsed} ms`);
      } finally {
        socket.destroy();
        await app.close();
        await server.close();
      }
    });
  });
}
