// How a route describes itself for the OpenAPI document (openapi.ts). Each route
// file exports its RouteDocs next to its handlers, naming the very valibot schemas
// that validate its input, so the document cannot describe other rules than the
// ones applied. Plain data: nothing of it runs per request.

import type * as v from "valibot";
import type { ProblemName } from "./problem.ts";

/** A JSON Schema written by hand: for bodies Kiln reads or writes without valibot (multipart, archives, raw bytes). */
export type JsonSchema = Record<string, unknown>;

export interface Content {
  /** A JSON body, described by the valibot schema that validates it (requests) or gives its shape (responses). */
  json?: v.GenericSchema;
  /** Bodies of other media types, by hand. */
  media?: Record<string, JsonSchema>;
}

export interface Reply extends Content {
  description: string;
}

export interface RouteDoc {
  summary: string;
  description?: string;
  /** The group the reference page lists it under. */
  tag: string;
  /** Served without authentication even when authentication is on. */
  public?: boolean;
  /** Path parameters: an object schema with one entry per `{name}` of the path. */
  params?: v.GenericSchema;
  /** Query parameters: an object schema, one parameter per entry. */
  query?: v.GenericSchema;
  body?: Content & { description?: string; required?: boolean };
  /** Successful answers by status. */
  responses: Record<number, Reply>;
  /** The problem+json answers of this route; those any route may give (401, 429, 500) are added by openapi.ts. */
  problems?: readonly ProblemName[];
}

/** Routes by "METHOD /path/{param}" as OpenAPI writes paths, e.g. "GET /session/{id}". */
export type RouteDocs = Readonly<Record<string, RouteDoc>>;
