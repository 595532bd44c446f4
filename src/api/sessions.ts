// Session lifecycle: create (and its Backend.AI alias), info, destroy, restart,
// interrupt and logs, and Kiln's own list of live sessions (GET /sessions).
// Schemas and route docs first; handlers only translate to the registry.

import { requestOwner } from "./auth.ts";
import { Hono } from "hono";
import * as v from "valibot";
import type { KilnConfig } from "../config.ts";
import { IMAGE_REF } from "../kernels/catalog.ts";
import type { Registry } from "../sessions/registry.ts";
import type { Session } from "../sessions/session.ts";
import type { RouteDocs } from "./route-doc.ts";
import { parse, readJson } from "./validate.ts";

const SessionName = v.pipe(
  v.string(),
  v.regex(/^(?=.{4,64}$)\w[\w.-]*\w$/, "must be 4 to 64 characters of letters, digits, _, . and -, starting and ending with a letter, digit or _"),
);

const ImageRef = v.pipe(v.string(), v.regex(IMAGE_REF, "must be an image name such as python or cr.backend.ai/stable/python:3.11"));

const UNITS: Record<string, number> = { "": 1, b: 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

/** Backend.AI's BinarySize: bytes as a number, or "512m", "1.5g", "4GiB". Output in MiB. */
const Memory = v.pipe(
  v.union([
    v.pipe(v.number(), v.minValue(1)),
    v.pipe(
      v.string(),
      v.trim(),
      v.regex(/^\d+(\.\d+)?\s*([kmgt]i?b?|b)?$/i, 'must be bytes or a size such as "512m" or "2g"'),
      v.transform((s) => {
        const [, num = "0", unit = ""] = /^([\d.]+)\s*([a-z]?)/i.exec(s) ?? [];
        return Number(num) * (UNITS[unit.toLowerCase()] ?? 1);
      }),
    ),
  ]),
  v.transform((bytes) => Math.ceil(bytes / 2 ** 20)),
  v.minValue(1, "must be at least 1 MiB"),
);

const Cpus = v.pipe(
  v.union([v.number(), v.pipe(v.string(), v.trim(), v.regex(/^\d+(\.\d+)?$/, "must be a number of cores"), v.transform(Number))]),
  v.gtValue(0, "must be more than 0"),
);

const PositiveInt = v.pipe(v.number(), v.integer("must be a whole number"), v.minValue(1, "must be at least 1"));

const Environ = v.pipe(
  v.record(
    v.pipe(v.string(), v.regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "environment variable names are letters, digits and _, not starting with a digit")),
    v.pipe(v.string(), v.maxLength(32_768), v.check((s) => !s.includes("\0"), "must not contain NUL")),
  ),
  v.check((env) => Object.keys(env).length <= 256, "at most 256 variables"),
);

export const CreateSessionSchema = v.pipe(
  // Backend.AI clients send more keys (group, domain, type, enqueueOnly...); they are accepted and ignored.
  v.looseObject({
    lang: v.optional(ImageRef),
    image: v.optional(ImageRef),
    clientSessionToken: v.optional(SessionName),
    name: v.optional(SessionName),
    session_name: v.optional(SessionName),
    config: v.optional(
      v.nullable(
        v.looseObject({
          resources: v.optional(v.nullable(v.looseObject({ cpu: v.optional(Cpus), mem: v.optional(Memory) }))),
          environ: v.optional(v.nullable(Environ)),
          /** Kiln's own: tighter limits than the server's for this session. */
          limits: v.optional(
            v.nullable(
              // Strict: a misspelt limit must not pass silently as no limit.
              v.strictObject({
                stepTimeoutMs: v.optional(PositiveInt),
                outputBytes: v.optional(PositiveInt),
              }),
            ),
          ),
        }),
      ),
    ),
    reuseIfExists: v.optional(v.boolean(), true),
    tag: v.optional(v.nullable(v.pipe(v.string(), v.maxLength(256)))),
  }),
  v.forward(
    v.partialCheck([["lang"], ["image"]], (i) => i.lang !== undefined || i.image !== undefined, "lang (or image) is required"),
    ["lang"],
  ),
  v.forward(
    v.partialCheck(
      [["clientSessionToken"], ["name"], ["session_name"]],
      (i) => (i.clientSessionToken ?? i.name ?? i.session_name) !== undefined,
      "clientSessionToken (or name) is required",
    ),
    ["clientSessionToken"],
  ),
);

/** GET /sessions?tag=…: Kiln's own (Backend.AI lists sessions through GraphQL). */
export const ListSessionsSchema = v.looseObject({ tag: v.optional(v.pipe(v.string(), v.maxLength(256))) });

/** The `{id}` of every /session/{id} route (read with c.req.param, described here). */
export const SessionParams = v.object({ id: v.pipe(v.string(), v.description("The session's UUID or its name.")) });

const SessionStatus = v.picklist(["RUNNING", "RESTARTING", "TERMINATING", "TERMINATED"]);

export const SessionCreatedSchema = v.object({
  sessionId: v.pipe(v.string(), v.uuid()),
  sessionName: v.string(),
  status: SessionStatus,
  servicePorts: v.array(v.unknown()),
  /** A reused session is answered with snake_case service_ports by Backend.AI 24.09. */
  service_ports: v.optional(v.pipe(v.array(v.unknown()), v.description("Only when an existing session was reused, as Backend.AI 24.09 answers."))),
  created: v.pipe(v.boolean(), v.description("false: an existing session of that name and image was reused.")),
});

export const SessionSummarySchema = v.object({
  sessionId: v.pipe(v.string(), v.uuid()),
  sessionName: v.string(),
  lang: v.string(),
  image: v.pipe(v.string(), v.description("The canonical image name, e.g. python.")),
  kernel: v.pipe(v.string(), v.description("The kernel serving it: isolate or podman.")),
  tag: v.nullable(v.string()),
  status: SessionStatus,
  age: v.pipe(v.number(), v.description("Milliseconds since creation.")),
  creationTime: v.pipe(v.string(), v.isoTimestamp()),
  lastActivityTime: v.pipe(v.string(), v.isoTimestamp()),
  numQueriesExecuted: v.pipe(v.number(), v.integer()),
});

export const SessionListSchema = v.object({ sessions: v.array(SessionSummarySchema) });

export const SessionInfoSchema = v.object({
  ...SessionSummarySchema.entries,
  environ: v.record(v.string(), v.string()),
  resources: v.object({ cpu: v.number(), mem: v.pipe(v.string(), v.description('MiB, e.g. "512m".')) }),
  limits: v.object({
    stepTimeoutMs: v.number(),
    memoryMiB: v.number(),
    cpus: v.number(),
    outputBytes: v.number(),
    maxBytes: v.number(),
    maxFiles: v.number(),
    uploadMaxFiles: v.number(),
    uploadMaxFileBytes: v.number(),
    consoleCapChars: v.number(),
  }),
  usage: v.object({ bytes: v.number(), files: v.number() }),
});

export const DestroyedSchema = v.object({ stats: v.record(v.string(), v.number()) });

export const LogsSchema = v.object({ result: v.object({ logs: v.pipe(v.string(), v.description("The last 65,536 characters of console output.")) }) });

const CREATE: RouteDocs[string] = {
  summary: "Create or reuse a session",
  description:
    "lang (or image) and clientSessionToken (or name) are required. A session of that name and image is reused unless reuseIfExists is false. " +
    "Other keys Backend.AI's clients send are accepted and ignored.",
  tag: "sessions",
  body: { json: CreateSessionSchema },
  responses: { 201: { description: "The session, created or reused.", json: SessionCreatedSchema } },
  problems: [
    "invalid-api-params",
    "session-already-exists",
    "object-not-found",
    "quota-exceeded",
    "payload-too-large",
    "unsupported-media-type",
    "kernel-creation-failed",
    "service-unavailable",
    "instance-not-available",
  ],
};

export const sessionDocs: RouteDocs = {
  "GET /sessions": {
    summary: "List live sessions",
    description: "Kiln's own, oldest first; Backend.AI lists sessions through GraphQL.",
    tag: "sessions",
    query: ListSessionsSchema,
    responses: { 200: { description: "The live sessions.", json: SessionListSchema } },
    problems: ["invalid-api-params"],
  },
  "POST /session": CREATE,
  "POST /session/_/create": { ...CREATE, summary: "Create or reuse a session (Backend.AI's alias)" },
  "GET /session/{id}": {
    summary: "Session info",
    tag: "sessions",
    params: SessionParams,
    responses: { 200: { description: "The session, its limits and its file usage.", json: SessionInfoSchema } },
    problems: ["object-not-found"],
  },
  "DELETE /session/{id}": {
    summary: "Destroy a session",
    description: "Its runs end, its kernel, files and processes go.",
    tag: "sessions",
    params: SessionParams,
    responses: { 200: { description: "The kernel's last figures.", json: DestroyedSchema } },
    problems: ["object-not-found"],
  },
  "PATCH /session/{id}": {
    summary: "Restart the kernel",
    description: "Fresh kernel state, files kept; the current run ends with exit code 130.",
    tag: "sessions",
    params: SessionParams,
    responses: { 204: { description: "Restarted." } },
    problems: ["object-not-found", "kernel-restart-failed"],
  },
  "POST /session/{id}/interrupt": {
    summary: "Interrupt the running step",
    description: "Its run ends with exit code 130.",
    tag: "sessions",
    params: SessionParams,
    responses: { 204: { description: "Interrupted (or nothing was running)." } },
    problems: ["object-not-found"],
  },
  "GET /session/{id}/logs": {
    summary: "Console output",
    tag: "sessions",
    params: SessionParams,
    responses: { 200: { description: "The session's recent console output.", json: LogsSchema } },
    problems: ["object-not-found"],
  },
};

export function sessionListRoutes(registry: Registry): Hono {
  const api = new Hono();
  api.get("/", (c) => {
    const { tag } = parse(ListSessionsSchema, c.req.query());
    const live = registry.sessions(requestOwner(c)).filter((s) => s.status !== "TERMINATING" && s.status !== "TERMINATED");
    const chosen = tag === undefined ? live : live.filter((s) => s.init.tag === tag);
    return c.json({ sessions: chosen.sort((a, b) => a.createdAt - b.createdAt).map(summary) });
  });
  return api;
}

export function sessionRoutes(registry: Registry, config: KilnConfig): Hono {
  const api = new Hono();

  const create = async (request: Request, owner: string | null) => {
    const body = parse(CreateSessionSchema, (await readJson(request, config.bodyLimitBytes)) ?? {});
    const resources = body.config?.resources;
    const limits = body.config?.limits;
    const { session, created } = await registry.create({
      owner,
      image: (body.image ?? body.lang)!,
      name: (body.clientSessionToken ?? body.name ?? body.session_name)!,
      environ: body.config?.environ ?? {},
      ...(resources?.mem !== undefined ? { memoryMiB: resources.mem } : {}),
      ...(resources?.cpu !== undefined ? { cpus: resources.cpu } : {}),
      ...(limits?.stepTimeoutMs !== undefined ? { stepTimeoutMs: limits.stepTimeoutMs } : {}),
      ...(limits?.outputBytes !== undefined ? { outputBytes: limits.outputBytes } : {}),
      reuseIfExists: body.reuseIfExists,
      tag: body.tag ?? null,
    });
    const answer: v.InferOutput<typeof SessionCreatedSchema> = {
      sessionId: session.id,
      sessionName: session.name,
      status: session.status,
      servicePorts: [],
      created,
    };
    // A reused session is answered with snake_case service_ports by Backend.AI 24.09; both keys keep every client happy.
    if (!created) answer.service_ports = [];
    return Response.json(answer, { status: 201 });
  };

  api.post("/", (c) => create(c.req.raw, requestOwner(c)));
  api.post("/_/create", (c) => create(c.req.raw, requestOwner(c)));

  api.get("/:id", async (c) => c.json(await info(registry.get(c.req.param("id"), requestOwner(c)), config)));

  api.delete("/:id", async (c) => c.json({ stats: await registry.destroy(c.req.param("id"), requestOwner(c)) }));

  api.patch("/:id", async (c) => {
    await registry.get(c.req.param("id"), requestOwner(c)).restart();
    return c.body(null, 204);
  });

  api.post("/:id/interrupt", (c) => {
    registry.get(c.req.param("id"), requestOwner(c)).interrupt();
    return c.body(null, 204);
  });

  api.get("/:id/logs", (c) => c.json({ result: { logs: registry.get(c.req.param("id"), requestOwner(c)).logs() } }));

  return api;
}

/** What GET /sessions says of each session, and GET /session/:id begins with. */
function summary(session: Session): v.InferOutput<typeof SessionSummarySchema> {
  const { init } = session;
  return {
    sessionId: session.id,
    sessionName: session.name,
    lang: init.image,
    image: init.image,
    kernel: init.kernelName,
    tag: init.tag,
    status: session.status,
    age: Date.now() - session.createdAt,
    creationTime: new Date(session.createdAt).toISOString(),
    lastActivityTime: new Date(session.lastUsed).toISOString(),
    numQueriesExecuted: session.numQueriesExecuted,
  };
}

async function info(session: Session, config: KilnConfig): Promise<v.InferOutput<typeof SessionInfoSchema>> {
  const { init } = session;
  const usage = await session.vfs.usage();
  return {
    ...summary(session),
    environ: init.environ,
    resources: { cpu: init.limits.cpus, mem: `${init.limits.memoryMiB}m` },
    limits: {
      ...init.limits,
      maxBytes: config.sessionMaxBytes,
      maxFiles: config.sessionMaxFiles,
      uploadMaxFiles: config.uploadMaxFiles,
      uploadMaxFileBytes: config.uploadMaxFileBytes,
      consoleCapChars: config.consoleCapChars,
    },
    usage,
  };
}
