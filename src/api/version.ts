// GET /: the API version, public (clients read it before they sign anything).

import { Hono } from "hono";
import * as v from "valibot";
import { VERSION } from "../version.ts";
import type { RouteDocs } from "./route-doc.ts";

/** The Backend.AI API version Kiln speaks; clients pick the /session routes from it. */
export const API_VERSION = "v8.20240915";

export const VersionSchema = v.object({
  version: v.pipe(v.string(), v.description("The Backend.AI API version Kiln speaks.")),
  manager: v.pipe(v.string(), v.description("Kiln's own version.")),
});

export const versionDocs: RouteDocs = {
  "GET /": {
    summary: "API version",
    description: "Backend.AI's clients choose the /session routes from it. Public.",
    tag: "server",
    public: true,
    responses: { 200: { description: "The versions.", json: VersionSchema } },
  },
};

export function versionRoutes(): Hono {
  const api = new Hono();
  api.get("/", (c) => c.json({ version: API_VERSION, manager: VERSION } satisfies v.InferOutput<typeof VersionSchema>));
  return api;
}
