// Backend.AI's own JavaScript SDK (npm backend.ai-client 21.3.1, unchanged) against
// a real Kiln server: version probe, create and reuse, upload, a batch run with
// the continue loop, info, logs, download (its GET form), download_single,
// restart and destroy. The SDK's requests are HMAC-signed; Kiln without auth
// ignores the signature.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { createApp, type KilnApp } from "../../src/app.ts";
import { scriptKernelFactory } from "../helpers/script-kernel.ts";
import { serveApp, type TestServer } from "../helpers/serve.ts";

// The SDK was written for browsers: it logs to localStorage and checks navigator.onLine.
const store = new Map<string, string>();
Object.assign(globalThis, {
  localStorage: {
    getItem: (k: string) => store.get(k) ?? null,
    setItem: (k: string, v: string) => store.set(k, v),
    removeItem: (k: string) => store.delete(k),
  },
});
if (!("navigator" in globalThis)) Object.assign(globalThis, { navigator: { onLine: true } });

type Result = { result: { runId: string; status: string; exitCode: number | null; console: [string, unknown][] } };
interface SdkClient {
  get_manager_version(): Promise<string>;
  createIfNotExists(image: string, name: string, resources?: object): Promise<{ sessionId: string; created: boolean }>;
  execute(id: string, runId: string | null, mode: string, code: string, opts: object): Promise<Result>;
  upload(id: string, path: string, blob: Blob): Promise<unknown>;
  download(id: string, files: string[]): Promise<Blob>;
  download_single(id: string, file: string): Promise<Blob>;
  get_info(id: string): Promise<Record<string, unknown>>;
  get_logs(id: string): Promise<{ result: { logs: string } }>;
  restart(id: string): Promise<unknown>;
  destroy(id: string): Promise<{ stats: object }>;
}

const require = createRequire(import.meta.url);
const sdk = require("backend.ai-client/backend.ai-client-node.js") as {
  Client: new (config: unknown, agent: string) => SdkClient;
  ClientConfig: new (accessKey: string, secretKey: string, endpoint: string) => unknown;
};

describe("Backend.AI's JavaScript SDK against Kiln", () => {
  let app: KilnApp;
  let server: TestServer;
  let client: SdkClient;

  before(async () => {
    app = createApp({ config: { flushIntervalMs: 100 }, kernels: [scriptKernelFactory()] });
    server = await serveApp(app);
    const config = new sdk.ClientConfig("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", server.url);
    client = new sdk.Client(config, "kiln-test");
  });
  after(async () => {
    await server.close();
    await app.close();
  });

  it("switches to the /session routes from GET / and runs a whole batch session", async () => {
    assert.equal(typeof (await client.get_manager_version()), "string");

    const created = await client.createIfNotExists("cr.backend.ai/stable/script:1.0", "sdk-demo");
    assert.equal(created.created, true);
    const again = await client.createIfNotExists("script", "sdk-demo");
    assert.equal(again.created, false);
    assert.equal(again.sessionId, created.sessionId);

    await client.upload("sdk-demo", "main.script", new Blob(["print hello from main\nwrite out/result.txt 42\n"]));
    await client.upload("sdk-demo", "lib/notes.txt", new Blob(["notes"]));

    const statuses: string[] = [];
    let stdout = "";
    let result = await client.execute("sdk-demo", null, "batch", "", { clean: "", build: "print building", exec: "*" });
    for (;;) {
      statuses.push(result.result.status);
      for (const [stream, data] of result.result.console) if (stream === "stdout") stdout += data as string;
      if (result.result.status === "finished") break;
      result = await client.execute("sdk-demo", result.result.runId, "continue", "", {});
    }
    assert.deepEqual(statuses, ["clean-finished", "build-finished", "finished"]);
    assert.equal(result.result.exitCode, 0);
    assert.equal(stdout, "building\nhello from main\n");

    const info = await client.get_info("sdk-demo");
    assert.equal(info.sessionId, created.sessionId);
    assert.equal(info.numQueriesExecuted, 1);
    assert.match((await client.get_logs("sdk-demo")).result.logs, /hello from main/);

    const single = await client.download_single("sdk-demo", "out/result.txt");
    assert.equal(await single.text(), "42");
    const multipart = await client.download("sdk-demo", ["out", "lib/notes.txt"]);
    const body = new Uint8Array(await multipart.arrayBuffer());
    const text = new TextDecoder("latin1").decode(body);
    assert.equal(text.match(/Content-Type: application\/x-tar/g)?.length, 2);
    assert.ok(text.indexOf("out/result.txt") < text.indexOf("notes.txt"), "parts in request order");

    await client.restart("sdk-demo");
    const stats = await client.destroy("sdk-demo");
    assert.equal(typeof stats.stats, "object");
    // The SDK wraps every server error as its own "server-error", keeping status and title.
    await assert.rejects(client.get_info("sdk-demo"), (error: { statusCode?: number; title?: string }) => {
      assert.equal(error.statusCode, 404);
      assert.match(error.title ?? "", /No such session/);
      return true;
    });
  });

  it("answers waiting-input through the SDK's input mode", async () => {
    await client.createIfNotExists("script", "sdk-input");
    let result = await client.execute("sdk-input", "run-input-1", "query", "input name?", {});
    assert.equal(result.result.status, "waiting-input");
    result = await client.execute("sdk-input", "run-input-1", "input", "Ada", {});
    assert.equal(result.result.status, "finished");
    assert.deepEqual(result.result.console, [["stdout", "got: Ada\n"]]);
    await client.destroy("sdk-input");
  });
});
