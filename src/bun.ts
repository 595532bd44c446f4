// Bun entry point: serves a Kiln app with Bun.serve. Typed by bun-types;
// excluded from Node's typecheck.
/// <reference types="bun-types" />

import type { KilnApp } from "./app.ts";

export function startBunServer(app: KilnApp, options: { host: string; port: number }) {
  const server = Bun.serve({ fetch: app.fetch, hostname: options.host, port: options.port, idleTimeout: 255 });
  return Promise.resolve({
    url: `http://${options.host.includes(":") ? `[${options.host}]` : options.host}:${server.port}`,
    close: async () => {
      await server.stop(true);
    },
  });
}
