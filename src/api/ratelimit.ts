// Rate limiting middleware, after authentication: each principal's requests per
// rolling window, Backend.AI's X-RateLimit-* headers on every limited response,
// and 429 rate-limit-exceeded with Retry-After past the limit.

import type { MiddlewareHandler } from "hono";
import type { RateLimiter } from "../auth/rate-limiter.ts";
import { Problem } from "./problem.ts";
import { setAnswerHeaders } from "./response-headers.ts";

export function rateLimitMiddleware(limiter: RateLimiter): MiddlewareHandler {
  // Backend.AI states the window in seconds.
  const windowSeconds = String(Math.ceil(limiter.windowMs / 1000));
  return async (c, next) => {
    const principal = c.get("principal");
    if (!principal || principal.rateLimit === 0) return next();
    const decision = limiter.take(principal.id, principal.rateLimit);
    const headers = {
      "x-ratelimit-limit": String(decision.limit),
      "x-ratelimit-remaining": String(decision.remaining),
      "x-ratelimit-window": windowSeconds,
    };
    if (!decision.allowed) {
      const retryAfter = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
      const msg = `More than ${decision.limit} requests in ${windowSeconds} s; retry in ${retryAfter} s.`;
      return new Problem("rate-limit-exceeded", msg).toResponse({ ...headers, "retry-after": String(retryAfter) });
    }
    await next();
    // Error responses too: onError has set c.res by the time next() returns.
    setAnswerHeaders(c, headers);
  };
}
