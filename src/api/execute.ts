// POST /session/:id — Backend.AI's execute, and /complete. The Code Execution
// Model itself lives in sessions/; this file only validates and dispatches.

import { Hono } from "hono";
import * as v from "valibot";
import type { KilnConfig } from "../config.ts";
import type { Registry } from "../sessions/registry.ts";
import { invalidParams } from "./problem.ts";
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

/** 32 hex digits. randomUUID draws from a cached pool of entropy: getRandomValues costs a system call per id. */
function newRunId(): string {
  return crypto.randomUUID().replaceAll("-", "");
}

export function executeRoutes(registry: Registry, config: KilnConfig): Hono {
  const api = new Hono();

  api.post("/:id", async (c) => {
    const session = registry.get(c.req.param("id"));
    const body = parse(ExecuteSchema, (await readJson(c.req.raw, config.bodyLimitBytes)) ?? {});
    const runId = body.runId ?? body.run_id ?? null;
    const code = body.code ?? "";
    switch (body.mode) {
      case "query":
        return c.json({ result: await session.start(runId ?? newRunId(), { mode: "query", code }) });
      case "batch":
        return c.json({ result: await session.start(runId ?? newRunId(), { mode: "batch", options: body.options ?? {} }) });
      case "continue":
      case "input":
        if (runId === null) throw invalidParams("runId: continuation requires explicit run ID");
        return c.json({ result: await (body.mode === "continue" ? session.continue(runId) : session.input(runId, code)) });
      case "complete":
        return c.json({ result: { status: "finished", completions: await session.complete(code, body.options ?? {}) } });
    }
  });

  api.post("/:id/complete", async (c) => {
    const session = registry.get(c.req.param("id"));
    const body = parse(CompleteSchema, (await readJson(c.req.raw, config.bodyLimitBytes)) ?? {});
    return c.json({ result: { status: "finished", completions: await session.complete(body.code ?? "", body.options ?? {}) } });
  });

  return api;
}
