// Authentication middleware: every route but GET / needs a Backend.AI signature
// or a bearer token when authentication is on. Either way it puts the request's
// principal on the context: who owns sessions and whose limits apply.

import type { Context, MiddlewareHandler } from "hono";
import type { KeyStore } from "../auth/keys.ts";
import { AuthFailure, authenticate } from "../auth/verify.ts";
import { Problem } from "./problem.ts";

/** Who a request comes from. */
export interface Principal {
  /** The client's identity for rate limits and run slots: `key:<access key>`, `ip:<address>` or `anonymous`. */
  id: string;
  /** The authenticated access key; null when authentication is off. */
  accessKey: string | null;
  /** Requests per rate-limit window; 0: no limit. */
  rateLimit: number;
}

declare module "hono" {
  interface ContextVariableMap {
    principal: Principal;
  }
}

export interface AuthOptions {
  /** null: authentication is off, every request is anonymous. */
  keys: KeyStore | null;
  /** The rate limit of a key that names none, and of anonymous clients. */
  rateLimit: number;
  anonymousRateLimit: number;
  now: () => number;
}

export function authMiddleware(options: AuthOptions): MiddlewareHandler {
  return async (c, next) => {
    if (options.keys === null) {
      const address = clientAddress(c);
      c.set("principal", { id: address ? `ip:${address}` : "anonymous", accessKey: null, rateLimit: options.anonymousRateLimit });
      return next();
    }
    try {
      const key = await authenticate(c.req.raw, options.keys, options.now());
      c.set("principal", { id: `key:${key.accessKey}`, accessKey: key.accessKey, rateLimit: key.rateLimit ?? options.rateLimit });
    } catch (error) {
      if (error instanceof AuthFailure) return authProblem(error);
      throw error;
    }
    return next();
  };
}

/** The session owner of a request: its access key, or null when authentication is off. */
export function requestOwner(c: Context): string | null {
  return c.get("principal")?.accessKey ?? null;
}

/** 401 problem+json with Backend.AI's names; the challenge names both schemes Kiln accepts. */
function authProblem(failure: AuthFailure): Response {
  return new Problem(failure.problem, failure.message).toResponse({ "www-authenticate": 'BackendAI signMethod="HMAC-SHA256", Bearer' });
}

/**
 * The peer's address where the runtime tells it: Node's server passes the
 * IncomingMessage as env.incoming, Bun.serve passes the server (requestIP). In
 * process (app.fetch) there is none. X-Forwarded-For is not trusted: anyone can send it.
 */
function clientAddress(c: Context): string | null {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } }; requestIP?: (r: Request) => { address: string } | null } | undefined;
  return env?.incoming?.socket?.remoteAddress ?? env?.requestIP?.(c.req.raw)?.address ?? null;
}
