// One log line per request, with a request id that the answer's X-Request-Id
// header carries back. A sane incoming X-Request-Id (a proxy's) is kept, so one
// id follows the request through both logs.

import type { MiddlewareHandler } from "hono";
import type { Logger } from "../log/logger.ts";
import { setAnswerHeaders } from "./response-headers.ts";

declare module "hono" {
  interface ContextVariableMap {
    requestId: string;
  }
}

/** hono/request-id's rule: up to 255 characters of letters, digits, _, - and =. */
const SANE_ID = /^[\w\-=]{1,255}$/;

export function requestLog(log: Logger): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now();
    const incoming = c.req.header("x-request-id");
    const reqId = incoming !== undefined && SANE_ID.test(incoming) ? incoming : crypto.randomUUID();
    c.set("requestId", reqId);
    await next();
    // After the route: a route that returns its own Response would drop a header set before.
    setAnswerHeaders(c, { "x-request-id": reqId });
    const { status } = c.res;
    // A refused request is a warning; error is kept for the unexpected failures app.ts logs with their stack.
    const level = status >= 400 ? "warn" : "info";
    if (!log.enabled(level)) return;
    const session = c.req.param("id");
    log.log(level, "request", {
      reqId,
      method: c.req.method,
      path: c.req.path,
      status,
      ms: Math.round((performance.now() - started) * 100) / 100,
      ...(session !== undefined && { session }),
    });
  };
}
