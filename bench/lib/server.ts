// A Kiln server in a child process of the harness, so the load generator and the
// server don't share an event loop and the server's RSS can be read on its own.
//   node --no-node-snapshot --import tsx bench/lib/server.ts '<ServerOptions JSON>'
// Prints one JSON line {"url", "pid"} when listening; SIGTERM closes it.
// Besides the Kiln API it serves two bench routes on the same Hono app:
//   POST /__bench/bare     a bare Hono route (figure 1's throughput baseline)
//   POST /__bench/settle   waits until the podman pool has refilled

import { createApp } from "../../src/app.ts";
import type { KernelFactory } from "../../src/kernels/kernel.ts";
import { startNodeServer } from "../../src/node.ts";

export interface ServerOptions {
  kernels: ("isolate" | "podman" | "script-disk")[];
  dataDir?: string;
  podmanPoolSize?: number;
  podmanLanguages?: string[];
  podmanStateDir?: string;
  config?: Record<string, unknown>;
}

const options = JSON.parse(process.argv[2] ?? "{}") as ServerOptions;
const kernels: KernelFactory[] = [];
let pool: { settled(): Promise<void> } | null = null;
const notes: string[] = [];

for (const name of options.kernels) {
  if (name === "isolate") {
    const { isolateKernelFactory, isolateUnavailableReason } = await import("../../src/kernels/isolate/index.ts");
    const factory = isolateKernelFactory();
    if (factory) kernels.push(factory);
    else notes.push(`isolate: ${isolateUnavailableReason()}`);
  } else if (name === "podman") {
    const { loadPodmanKernels } = await import("../../src/kernels/podman/index.ts");
    const load = await loadPodmanKernels({
      poolSize: options.podmanPoolSize ?? 1,
      ...(options.podmanLanguages ? { languages: options.podmanLanguages } : {}),
      ...(options.podmanStateDir ? { stateDir: options.podmanStateDir } : {}),
    });
    if (load.factory) {
      kernels.push(load.factory);
      pool = load.factory.pool;
    }
    if (load.reason) notes.push(`podman: ${load.reason}`);
  } else if (name === "script-disk") {
    const { scriptKernelFactory } = await import("../../tests/helpers/script-kernel.ts");
    kernels.push(scriptKernelFactory({ vfs: "disk" }));
  }
}

const app = createApp({
  config: { ...(options.dataDir ? { dataDir: options.dataDir } : {}), ...options.config },
  kernels,
});
const payload = JSON.stringify({ result: { runId: "bare", status: "finished", exitCode: 0, options: null, files: [], console: [["stdout", "2\n"]] } });
app.post("/__bench/bare", async (c) => {
  await c.req.text();
  return c.body(payload, 200, { "content-type": "application/json" });
});
app.post("/__bench/settle", async (c) => {
  await pool?.settled();
  return c.text("ok");
});

const server = await startNodeServer(app, { host: "127.0.0.1", port: 0, requestTimeoutMs: 120_000 });
console.log(JSON.stringify({ url: server.url, pid: process.pid, notes, images: Object.keys(app.catalog.available()) }));

let closing = false;
const stop = async () => {
  if (closing) return;
  closing = true;
  await server.close();
  await app.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
