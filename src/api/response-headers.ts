// Headers a middleware adds once the route has answered.

import type { Context } from "hono";

/**
 * Sets headers on the route's Response in place. c.header() after next() would rebuild the
 * Response around a stream body, which costs @hono/node-server its fast path (about 0.16 ms
 * of CPU per request); a Response with immutable headers (one from fetch()) is rebuilt after all.
 */
export function setAnswerHeaders(c: Context, headers: Record<string, string>): void {
  try {
    for (const [name, value] of Object.entries(headers)) c.res.headers.set(name, value);
  } catch {
    for (const [name, value] of Object.entries(headers)) c.header(name, value);
  }
}
