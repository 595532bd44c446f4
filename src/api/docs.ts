// GET /docs: Scalar's browsable API reference of /openapi.json. The page loads
// Scalar's script from its CDN (jsDelivr); the API itself needs nothing from outside.

import { Scalar } from "@scalar/hono-api-reference";
import { Hono } from "hono";
import type { RouteDocs } from "./route-doc.ts";

export const docsDocs: RouteDocs = {
  "GET /docs": {
    summary: "API reference",
    description: "A browsable reference of this document. The page loads Scalar's script from a CDN. Public.",
    tag: "server",
    public: true,
    responses: { 200: { description: "An HTML page.", media: { "text/html": { type: "string" } } } },
  },
};

export function docsRoutes(): Hono {
  const api = new Hono();
  api.get("/docs", Scalar({ url: "/openapi.json", pageTitle: "Kiln API" }));
  return api;
}
