// GET /metrics (Prometheus text format) and the middleware that feeds it: HTTP
// requests by route pattern, and the bytes of uploads and downloads as they pass.

import { Hono, type Context, type MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import type { KilnMetrics } from "../metrics/kiln.ts";
import { PROMETHEUS_CONTENT_TYPE } from "../metrics/prometheus.ts";
import type { RouteDocs } from "./route-doc.ts";

export const metricsDocs: RouteDocs = {
  "GET /metrics": {
    summary: "Metrics",
    description:
      "Prometheus text format: sessions by image, runs by status, run and step durations, run queues, " +
      "upload and download bytes, HTTP requests. Needs authentication when it is on.",
    tag: "server",
    responses: { 200: { description: "The metrics.", media: { "text/plain": { type: "string" } } } },
  },
};

export function metricsRoutes(metrics: KilnMetrics): Hono {
  const api = new Hono();
  api.get("/metrics", (c) => c.body(metrics.render(), 200, { "content-type": PROMETHEUS_CONTENT_TYPE }));
  return api;
}

/** Counts every request by method, route pattern and status, and times it to its answer's head. */
export function requestMetrics(metrics: KilnMetrics): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now();
    await next();
    metrics.request(c.req.method, routePattern(c), c.res.status, (performance.now() - started) / 1000);
  };
}

/** Counts an upload's body bytes as the route reads them. */
export function uploadBytes(metrics: KilnMetrics): MiddlewareHandler {
  return async (c, next) => {
    const { body } = c.req.raw;
    // As hono/body-limit does: the route reads the replacement, which counts what passes.
    if (body) c.req.raw = new Request(c.req.raw, { body: counted(body, (n) => metrics.uploadBytes(n)), duplex: "half" } as RequestInit);
    await next();
  };
}

/** Counts a successful download's body bytes as they are sent. */
export function downloadBytes(metrics: KilnMetrics): MiddlewareHandler {
  return async (c, next) => {
    await next();
    const { body } = c.res;
    if (c.res.ok && body) c.res = new Response(counted(body, (n) => metrics.downloadBytes(n)), c.res);
  };
}

/**
 * The pattern of the route that serves (or would serve) the request, e.g. "/session/:id":
 * bounded, unlike the path. A request refused before its route ran (401, 429) still names it.
 */
function routePattern(c: Context): string {
  return matchedRoutes(c).find((r) => r.method !== "ALL")?.path ?? "unmatched";
}

function counted(body: ReadableStream<Uint8Array>, count: (bytes: number) => void): ReadableStream<Uint8Array> {
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        count(chunk.byteLength);
        controller.enqueue(chunk);
      },
    }),
  );
}
