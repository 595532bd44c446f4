// POST /session/:id — Backend.AI's execute, and /complete. The Code Execution
// Model itself lives in sessions/; this file only validates and dispatches.

import { requestOwner } from "./auth.ts";
import { Hono } from "hono";
import * as v from "valibot";
import type { KilnConfig } from "../config.ts";
import type { Registry } from "../sessions/registry.ts";
import { invalidParams } from "./problem.ts";
import type { RouteDocs } from "./route-doc.ts";
import { SessionParams } from "./sessions.ts";
import { parse, readJson } from "./validate.ts";

const RunId = v.pipe(v.string(), v.regex(/^[\w.-]{1,64}$/, "must be 1 to 64 characters of letters, digits, _, . and -"));
const Command = v.nullable(v.pipe(v.string(), v.maxLength(65_536)));

export const ExecuteSchema = v.looseObject({
  mode: v.picklist(["query", "batch", "continue", "input", "complete"], "mode has an invalid value."),
  runId: v.optional(v.nullable(RunId)),
  /** Backend.AI ≥ 25.6 reads run_id; both spellings are accepted, runId is answered. */
  run_id: v.optional(v.nullable(RunId)),
  code: v.optional(v.nullable(v.string())),
  options: v.optional(
    v.nullable(
      v.looseObject({
        clean: v.optional(Command),
        build: v.optional(Command),
        exec: v.optional(Command),
      }),
    ),
  ),
});

export const CompleteSchema = v.looseObject({
  code: v.optional(v.nullable(v.string())),
  options: v.optional(v.nullable(v.record(v.string(), v.unknown()))),
});

const ConsoleItemSchema = v.union([
  v.tuple([v.picklist(["stdout", "stderr", "html"]), v.string()]),
  v.tuple([v.literal("media"), v.tuple([v.pipe(v.string(), v.description("MIME type")), v.string()])]),
  v.tuple([
    v.literal("log"),
    v.tuple([v.picklist(["debug", "info", "warning", "error", "fatal"]), v.pipe(v.string(), v.description("time")), v.pipe(v.string(), v.description("logger")), v.string()]),
  ]),
]);

export const RunResultSchema = v.object({
  runId: v.string(),
  status: v.pipe(
    v.picklist(["continued", "clean-finished", "build-finished", "waiting-input", "finished", "exec-timeout"]),
    v.description("Call again with mode continue until finished or exec-timeout; answer waiting-input with mode input."),
  ),
  exitCode: v.nullable(v.number()),
  options: v.pipe(v.nullable(v.record(v.string(), v.unknown())), v.description("For waiting-input: {is_password}.")),
  files: v.pipe(v.array(v.unknown()), v.description("Always empty.")),
  console: v.pipe(v.array(ConsoleItemSchema), v.description("Output since the last answer: [stdout|stderr|html, text], [media, [mime, data]], [log, [level, time, logger, message]].")),
});

export const CompletionSchema = v.object({ result: v.object({ status: v.literal("finished"), completions: v.array(v.string()) }) });

export const ExecuteAnswerSchema = v.union([v.object({ result: RunResultSchema }), CompletionSchema]);

export const executeDocs: RouteDocs = {
  "POST /session/{id}": {
    summary: "Execute",
    description:
      "query runs code; batch runs options.clean, build and exec as steps; continue reads a run's next result; input answers waiting-input with code; complete gives completions. " +
      "Each call answers at the run's next status change, or with continued after the flush interval.",
    tag: "execute",
    params: SessionParams,
    body: { json: ExecuteSchema },
    responses: { 200: { description: "The run's next result (or completions for mode complete).", json: ExecuteAnswerSchema } },
    problems: ["invalid-api-params", "object-not-found", "payload-too-large", "unsupported-media-type", "service-unavailable"],
  },
  "POST /session/{id}/complete": {
    summary: "Completions",
    tag: "execute",
    params: SessionParams,
    body: { json: CompleteSchema, required: false },
    responses: { 200: { description: "Completions for code.", json: CompletionSchema } },
    problems: ["invalid-api-params", "object-not-found", "payload-too-large", "unsupported-media-type"],
  },
};

/** 32 hex digits. randomUUID draws from a cached pool of entropy: getRandomValues costs a system call per id. */
function newRunId(): string {
  return crypto.randomUUID().replaceAll("-", "");
}

export function executeRoutes(registry: Registry, config: KilnConfig): Hono {
  const api = new Hono();

  api.post("/:id", async (c) => {
    const session = registry.get(c.req.param("id"), requestOwner(c));
    const body = parse(ExecuteSchema, (await readJson(c.req.raw, config.bodyLimitBytes)) ?? {});
    const runId = body.runId ?? body.run_id ?? null;
    const code = body.code ?? "";
    const answer = (result: v.InferOutput<typeof ExecuteAnswerSchema>["result"]) => c.json({ result });
    switch (body.mode) {
      case "query":
        return answer(await session.start(runId ?? newRunId(), { mode: "query", code }));
      case "batch":
        return answer(await session.start(runId ?? newRunId(), { mode: "batch", options: body.options ?? {} }));
      case "continue":
      case "input":
        if (runId === null) throw invalidParams("runId: continuation requires explicit run ID");
        return answer(await (body.mode === "continue" ? session.continue(runId) : session.input(runId, code)));
      case "complete":
        return answer({ status: "finished", completions: await session.complete(code, body.options ?? {}) });
    }
  });

  api.post("/:id/complete", async (c) => {
    const session = registry.get(c.req.param("id"), requestOwner(c));
    const body = parse(CompleteSchema, (await readJson(c.req.raw, config.bodyLimitBytes)) ?? {});
    const completions = await session.complete(body.code ?? "", body.options ?? {});
    return c.json({ result: { status: "finished", completions } } satisfies v.InferOutput<typeof CompletionSchema>);
  });

  return api;
}
