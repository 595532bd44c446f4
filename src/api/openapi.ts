// The OpenAPI 3.1 document, built once from the RouteDocs each route file exports
// next to its handlers; their valibot schemas become JSON Schema (draft 2020-12,
// the dialect of OpenAPI 3.1) through @valibot/to-json-schema. Served at
// GET /openapi.json.

import { toJsonSchema, type ConversionConfig } from "@valibot/to-json-schema";
import { Hono } from "hono";
import * as v from "valibot";
import { Problem, ProblemSchema, type ProblemName } from "./problem.ts";
import type { Content, JsonSchema, RouteDoc, RouteDocs } from "./route-doc.ts";

export interface DocumentOptions {
  version: string;
  /** Whether requests must authenticate: the document then says how, and lists 401 and 429. */
  authRequired: boolean;
}

type Json = Record<string, unknown>;

const PROBLEM_REF = { $ref: "#/components/schemas/Problem" };
/** Any route may fail unexpectedly; an authenticated one may also be refused or rate-limited. */
const EVERY_ROUTE: readonly ProblemName[] = ["internal-server-error"];
const AUTHENTICATED: readonly ProblemName[] = ["auth-failed", "invalid-auth-params", "rate-limit-exceeded"];

export function openApiDocument(docs: readonly RouteDocs[], options: DocumentOptions): Json {
  const paths: Record<string, Json> = {};
  for (const [key, doc] of docs.flatMap((d) => Object.entries(d))) {
    const [method, path] = key.split(" ") as [string, string];
    const item = (paths[path] ??= {});
    const verb = method.toLowerCase();
    if (item[verb]) throw new Error(`${key} is documented twice`);
    item[verb] = operation(path, doc, options);
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Kiln",
      version: options.version,
      summary: "A code-execution server that speaks Backend.AI's REST API.",
      description:
        "Sessions, batch and query runs, uploads and downloads, as Backend.AI's Code Execution API. " +
        "Errors are application/problem+json with Backend.AI's problem types.",
    },
    paths,
    components: {
      schemas: { Problem: schema(ProblemSchema, "output") },
      ...(options.authRequired && {
        securitySchemes: {
          bearer: { type: "http", scheme: "bearer", description: "A token from the keys file (`kiln keygen` prints one)." },
          backendai: {
            type: "apiKey",
            in: "header",
            name: "Authorization",
            description: "Backend.AI's request signature: `BackendAI signMethod=HMAC-SHA256, credential=<access key>:<signature>`, as Backend.AI's SDKs send it.",
          },
        },
      }),
    },
  };
}

export const openApiDocs: RouteDocs = {
  "GET /openapi.json": {
    summary: "OpenAPI document",
    description: "This document, OpenAPI 3.1. Public.",
    tag: "server",
    public: true,
    responses: { 200: { description: "The document.", media: { "application/json": { type: "object" } } } },
  },
};

/** GET /openapi.json: the document, built at its first request (most apps, tests among them, are never asked). */
export function openApiRoutes(build: () => Json): Hono {
  let body: string | undefined;
  const api = new Hono();
  api.get("/openapi.json", (c) => c.body((body ??= JSON.stringify(build())), 200, { "content-type": "application/json" }));
  return api;
}

function operation(path: string, doc: RouteDoc, options: DocumentOptions): Json {
  const guarded = !doc.public && options.authRequired;
  const problems = [...(doc.problems ?? []), ...EVERY_ROUTE, ...(guarded ? AUTHENTICATED : [])];
  const responses: Record<string, Json> = {};
  for (const [status, reply] of Object.entries(doc.responses)) {
    responses[status] = { description: reply.description, ...content(reply, "output") };
  }
  for (const [status, names] of byStatus(problems)) {
    if (responses[status]) throw new Error(`${path}: status ${status} is both an answer and a problem`);
    responses[status] = { description: names.join(", "), content: { "application/problem+json": { schema: PROBLEM_REF } } };
  }
  const parameters = [...pathParameters(path, doc.params), ...queryParameters(doc.query)];
  return {
    summary: doc.summary,
    ...(doc.description && { description: doc.description }),
    tags: [doc.tag],
    ...(parameters.length > 0 && { parameters }),
    ...(doc.body && {
      requestBody: { required: doc.body.required ?? true, ...(doc.body.description && { description: doc.body.description }), ...content(doc.body, "input") },
    }),
    responses,
    ...(guarded && { security: [{ bearer: [] }, { backendai: [] }] }),
  };
}

function content(body: Content, mode: "input" | "output"): { content?: Record<string, { schema: JsonSchema }> } {
  const media: Record<string, { schema: JsonSchema }> = {};
  if (body.json) media["application/json"] = { schema: schema(body.json, mode) };
  for (const [type, s] of Object.entries(body.media ?? {})) media[type] = { schema: s };
  return Object.keys(media).length > 0 ? { content: media } : {};
}

function pathParameters(path: string, params: v.GenericSchema | undefined): Json[] {
  const properties = params ? objectProperties(params) : {};
  return [...path.matchAll(/\{(\w+)\}/g)].map(([, name]) => {
    const { description, ...s } = properties[name!] ?? { type: "string" };
    return { name, in: "path", required: true, ...(description !== undefined && { description }), schema: s };
  });
}

function queryParameters(query: v.GenericSchema | undefined): Json[] {
  if (!query) return [];
  const required = new Set((schema(query, "input").required as string[] | undefined) ?? []);
  return Object.entries(objectProperties(query)).map(([name, { description, ...s }]) => ({
    name,
    in: "query",
    required: required.has(name),
    ...(description !== undefined && { description }),
    schema: s,
  }));
}

function objectProperties(object: v.GenericSchema): Record<string, JsonSchema> {
  const converted = schema(object, "input");
  if (converted.type !== "object") throw new Error("parameters must be described by an object schema");
  return (converted.properties as Record<string, JsonSchema> | undefined) ?? {};
}

/** Problem names grouped by their status, in status order. */
function byStatus(names: readonly ProblemName[]): [string, string[]][] {
  const groups = new Map<number, string[]>();
  for (const name of new Set(names)) {
    const status = new Problem(name).status;
    groups.set(status, [...(groups.get(status) ?? []), name]);
  }
  return [...groups].sort(([a], [b]) => a - b).map(([status, group]) => [String(status), group]);
}

/**
 * A valibot schema as JSON Schema: the input a request schema accepts, the output a response
 * schema gives. What JSON Schema cannot say is decided here, action by action, and anything
 * else unconvertible throws, so a new schema cannot slip into the document half-described:
 * - check, partial_check, and a bound on a union are left out: the document is looser there,
 *   and the route's descriptions say what they require (e.g. lang or image);
 * - trim, and a regex's flags, are left out: the document is stricter there (no surrounding
 *   spaces; the case the pattern shows), which a client following it never notices.
 */
function schema(s: v.GenericSchema, typeMode: "input" | "output"): JsonSchema {
  const { $schema: _dialect, ...converted } = toJsonSchema(s, { target: "draft-2020-12", typeMode, overrideAction }) as JsonSchema;
  return converted;
}

const LEFT_OUT = new Set(["check", "partial_check", "trim", "gt_value", "regex"]);

const overrideAction: ConversionConfig["overrideAction"] = ({ valibotAction, jsonSchema, errors }) =>
  errors && LEFT_OUT.has(valibotAction.type) ? jsonSchema : undefined;
