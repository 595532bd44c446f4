// Node entry point: serves a Kiln app over HTTP with @hono/node-server.
// The only file besides cli.ts that knows it runs on Node.

import { serve } from "@hono/node-server";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import type { KilnApp } from "./app.ts";

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

export function startNodeServer(
  app: KilnApp,
  options: { host: string; port: number; requestTimeoutMs: number },
): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    const server = serve({
      fetch: app.fetch,
      hostname: options.host,
      port: options.port,
      // A body that trickles in is cut off with 408 instead of holding a socket forever.
      serverOptions: { requestTimeout: options.requestTimeoutMs, headersTimeout: Math.min(options.requestTimeoutMs, 60_000) },
    }) as Server;
    server.once("error", reject);
    server.once("listening", () => {
      const { port } = server.address() as AddressInfo;
      const host = options.host.includes(":") ? `[${options.host}]` : options.host;
      resolve({
        url: `http://${host}:${port}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
