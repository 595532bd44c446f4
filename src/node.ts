// Node entry point: serves a Kiln app over HTTP with @hono/node-server.
// The only file besides cli.ts that knows it runs on Node.

import { serve, type HttpBindings } from "@hono/node-server";
import type { IncomingMessage, Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
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
      fetch: (request, env) => app.fetch(withGetBody(request, (env as HttpBindings).incoming), env),
      hostname: options.host,
      port: options.port,
      // A body that trickles in is cut off with 408 instead of holding a socket forever.
      // Node checks these timeouts only every connectionsCheckingInterval (30 s by default).
      serverOptions: {
        requestTimeout: options.requestTimeoutMs,
        headersTimeout: Math.min(options.requestTimeoutMs, 60_000),
        connectionsCheckingInterval: Math.max(250, Math.min(30_000, Math.floor(options.requestTimeoutMs / 4))),
      },
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

/**
 * Backend.AI 24.09's Python client sends GET /session/:id/files with a JSON body, which the
 * adapter drops (fetch's Request cannot carry a GET body). Such a request is rebuilt as a
 * POST carrying the body and relabelled GET, the same trick the adapter uses for TRACE.
 */
function withGetBody(request: Request, incoming: IncomingMessage): Request {
  const hasBody = incoming.headers["content-length"] !== undefined && incoming.headers["content-length"] !== "0";
  if (request.method !== "GET" || !(hasBody || incoming.headers["transfer-encoding"] !== undefined)) return request;
  const body = Readable.toWeb(incoming) as unknown as ReadableStream<Uint8Array>;
  const rebuilt = new Request(request.url, { method: "POST", headers: request.headers, body, signal: request.signal, duplex: "half" } as RequestInit);
  Object.defineProperty(rebuilt, "method", { value: "GET" });
  return rebuilt;
}
