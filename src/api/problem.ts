// Backend.AI's error format: application/problem+json with its type names and
// status codes (api/exceptions.py of Backend.AI 24.09). Handlers throw a Problem;
// app.ts's onError turns it (and anything unexpected) into a response.

import * as v from "valibot";

const PROBLEMS = {
  "general-error": [500, "General Backend API Error."],
  "url-not-found": [404, "Unknown URL path."],
  "object-not-found": [404, "No such object."],
  "generic-bad-request": [400, "Bad request."],
  "invalid-api-params": [400, "Missing or invalid API parameters."],
  // Both 401 in Kiln: Backend.AI answers invalid-auth-params with 400, but every client treats 401 as "check your keys".
  "auth-failed": [401, "Credential/signature mismatch."],
  "invalid-auth-params": [401, "Missing or invalid authorization parameters."],
  "method-not-allowed": [405, "HTTP Method Not Allowed."],
  "not-implemented": [400, "This API is not implemented."],
  "deprecated": [400, "This API is deprecated."],
  "session-already-exists": [400, "The session already exists but you requested not to reuse existing one."],
  "too-many-sessions-matched": [404, "Too many sessions matched."],
  "quota-exceeded": [412, "You have reached your resource limit."],
  "payload-too-large": [413, "Request body too large."],
  "unsupported-media-type": [415, "Unsupported media type."],
  "rate-limit-exceeded": [429, "You have reached your API query rate limit."],
  "internal-server-error": [500, "Internal server error."],
  "service-unavailable": [503, "Service unavailable."],
  "instance-not-available": [503, "There is no available instance."],
  "kernel-creation-failed": [500, "Kernel creation has failed."],
  "kernel-restart-failed": [500, "Kernel restart has failed."],
  "kernel-execution-failed": [500, "Executing user code in the kernel has failed."],
} as const satisfies Record<string, readonly [number, string]>;

export type ProblemName = keyof typeof PROBLEMS;

export const PROBLEM_BASE = "https://api.backend.ai/probs/";

/** The body of every error answer (what Problem.toJSON writes), for the OpenAPI document. */
export const ProblemSchema = v.object({
  type: v.picklist(Object.keys(PROBLEMS).map((name) => PROBLEM_BASE + name)),
  title: v.string(),
  msg: v.optional(v.pipe(v.string(), v.description("What went wrong; for invalid-api-params it starts with the field."))),
  data: v.optional(v.pipe(v.unknown(), v.description("Details; for invalid-api-params {issues: [{field, message}]}."))),
});

export class Problem extends Error {
  override name = "Problem";
  readonly status: number;
  readonly title: string;

  constructor(
    readonly problem: ProblemName,
    readonly msg?: string,
    readonly data?: unknown,
    title?: string,
  ) {
    super(msg ?? PROBLEMS[problem][1]);
    this.status = PROBLEMS[problem][0];
    this.title = title ?? PROBLEMS[problem][1];
  }

  toJSON(): Record<string, unknown> {
    const body: Record<string, unknown> = { type: PROBLEM_BASE + this.problem, title: this.title };
    if (this.msg !== undefined) body.msg = this.msg;
    if (this.data !== undefined) body.data = this.data;
    return body;
  }

  toResponse(headers?: HeadersInit): Response {
    const h = new Headers(headers);
    h.set("content-type", "application/problem+json");
    return new Response(JSON.stringify(this.toJSON()), { status: this.status, headers: h });
  }
}

/** "No such session." and its kin, Backend.AI's object-not-found titles. */
export function notFound(what: string, msg?: string, data?: unknown): Problem {
  return new Problem("object-not-found", msg, data, `No such ${what}.`);
}

export function invalidParams(msg: string, data?: unknown): Problem {
  return new Problem("invalid-api-params", msg, data);
}
