// GET /healthz: public liveness and readiness. 200 while some kernel can serve
// sessions, 503 when none can (a server without kernels only answers errors).

import { Hono } from "hono";
import * as v from "valibot";
import type { Catalog } from "../kernels/catalog.ts";
import type { Registry } from "../sessions/registry.ts";
import { VERSION } from "../version.ts";
import type { RouteDocs } from "./route-doc.ts";

export const HealthSchema = v.object({
  status: v.picklist(["ok", "unavailable"]),
  version: v.pipe(v.string(), v.description("Kiln's version.")),
  runtime: v.object({ name: v.picklist(["node", "bun", "deno", "unknown"]), version: v.string() }),
  kernels: v.pipe(v.record(v.string(), v.string()), v.description("Each served image and the kernel serving it.")),
  sessions: v.pipe(v.number(), v.integer(), v.description("Live sessions.")),
});

type Health = v.InferOutput<typeof HealthSchema>;

export const healthDocs: RouteDocs = {
  "GET /healthz": {
    summary: "Health",
    description: "The version, the runtime, the kernels available and the live sessions. Public.",
    tag: "server",
    public: true,
    responses: {
      200: { description: "At least one kernel is available.", json: HealthSchema },
      503: { description: "No kernel is available: status is unavailable.", json: HealthSchema },
    },
  },
};

export function healthRoutes(catalog: Catalog, registry: Registry): Hono {
  const api = new Hono();
  const runtime = runtimeInfo();
  api.get("/healthz", (c) => {
    const kernels = catalog.available();
    const ok = Object.keys(kernels).length > 0;
    const health: Health = { status: ok ? "ok" : "unavailable", version: VERSION, runtime, kernels, sessions: registry.size };
    return c.json(health, ok ? 200 : 503);
  });
  return api;
}

/** The JavaScript runtime, from its globals (Bun sets process.versions.node too, so it is asked first). */
function runtimeInfo(): Health["runtime"] {
  const g = globalThis as { Bun?: { version: string }; Deno?: { version: { deno: string } }; process?: { versions?: { node?: string } } };
  if (g.Bun) return { name: "bun", version: g.Bun.version };
  if (g.Deno) return { name: "deno", version: g.Deno.version.deno };
  if (g.process?.versions?.node) return { name: "node", version: g.process.versions.node };
  return { name: "unknown", version: "" };
}
