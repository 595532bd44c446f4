// Serves an app on a free loopback port with the runtime the tests run on
// (Node's or Bun's own server), so the HTTP suites test what users run.

import type { KilnApp } from "../../src/app.ts";

export interface TestServer {
  url: string;
  close(): Promise<void>;
}

export async function serveApp(app: KilnApp): Promise<TestServer> {
  if ("Bun" in globalThis) {
    const { startBunServer } = await import("../../src/bun.ts");
    return startBunServer(app, { host: "127.0.0.1", port: 0 });
  }
  const { startNodeServer } = await import("../../src/node.ts");
  return startNodeServer(app, { host: "127.0.0.1", port: 0, requestTimeoutMs: 30_000 });
}
