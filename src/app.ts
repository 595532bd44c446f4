// createApp(options): the whole Kiln API as a Hono app. Runtime-neutral: it
// serves Web-standard Requests through app.fetch, on any server or none.

import { Hono } from "hono";
import { authMiddleware } from "./api/auth.ts";
import { executeRoutes } from "./api/execute.ts";
import { toProblem } from "./api/errors.ts";
import { fileRoutes } from "./api/files.ts";
import { Problem } from "./api/problem.ts";
import { rateLimitMiddleware } from "./api/ratelimit.ts";
import { sessionListRoutes, sessionRoutes } from "./api/sessions.ts";
import { KeyStore, type Keypair } from "./auth/keys.ts";
import { readKeysFile } from "./auth/keys-file.ts";
import { authRequired, checkAuthConfig } from "./auth/policy.ts";
import { RateLimiter } from "./auth/rate-limiter.ts";
import { RunSlots } from "./auth/run-slots.ts";
import { parseConfig, type KilnConfig, type KilnConfigInput } from "./config.ts";
import { Catalog } from "./kernels/catalog.ts";
import type { KernelFactory } from "./kernels/kernel.ts";
import { Registry } from "./sessions/registry.ts";
import { VERSION } from "./version.ts";

/** The Backend.AI API version Kiln speaks; clients pick the /session routes from it. */
export const API_VERSION = "v8.20240915";

export interface AppOptions {
  config?: KilnConfigInput;
  /** The kernels this server offers; see kernels/defaults.ts for the ones `kiln serve` loads. */
  kernels?: readonly KernelFactory[];
  /** Where unexpected errors go (the 500s); default console.error. */
  onError?: (error: unknown) => void;
  /** The keypairs accepted when authentication is on; default those of config.keysFile (`kiln serve` adds the default file and env vars: auth/keys-file.ts loadKeys). */
  keys?: readonly Keypair[];
  /** The clock of the signature date window and the rate limits (ms since the epoch); default Date.now. */
  now?: () => number;
}

export type KilnApp = Hono & {
  readonly config: KilnConfig;
  readonly catalog: Catalog;
  readonly registry: Registry;
  /** Whether requests must authenticate (config.auth, or the host for auto). */
  readonly authRequired: boolean;
  /** The concurrent-run caps (--max-runs, --max-runs-per-key, --run-queue-size), per principal id. */
  readonly runSlots: RunSlots;
  /** Destroys every session and releases the kernels. */
  close(): Promise<void>;
};

export function createApp(options: AppOptions = {}): KilnApp {
  const config = parseConfig(options.config ?? {});
  const now = options.now ?? Date.now;
  const required = authRequired(config);
  const keys = options.keys ?? (config.keysFile === undefined ? [] : readKeysFile(config.keysFile));
  checkAuthConfig(config, keys.length);
  const keyStore = required ? new KeyStore(keys) : null;
  const runSlots = new RunSlots({ total: config.maxRuns, perClient: config.maxRunsPerKey, queue: config.runQueueSize });
  const catalog = new Catalog(options.kernels ?? []);
  const registry = new Registry(config, catalog);
  const report = options.onError ?? ((error: unknown) => console.error("kiln: unexpected error:", error));

  const app = new Hono();
  // Public, and before the middleware: clients read the API version here before they sign anything.
  app.get("/", (c) => c.json({ version: API_VERSION, manager: VERSION }));
  app.use(authMiddleware({ keys: keyStore, rateLimit: config.rateLimit, anonymousRateLimit: config.anonymousRateLimit, now }));
  app.use(rateLimitMiddleware(new RateLimiter({ windowMs: config.rateLimitWindowMs, now })));
  app.route("/sessions", sessionListRoutes(registry));
  app.route("/session", sessionRoutes(registry, config));
  app.route("/session", executeRoutes(registry, config));
  app.route("/session", fileRoutes(registry, config));

  app.notFound((c) => {
    const path = new URL(c.req.url).pathname;
    const allowed = allowedMethods(app, path);
    if (allowed.length > 0) {
      return new Problem("method-not-allowed", `${c.req.method} is not allowed on ${path}.`, { allowed }).toResponse({ allow: allowed.join(", ") });
    }
    return new Problem("url-not-found", undefined, path).toResponse();
  });
  app.onError((error) => {
    const problem = toProblem(error);
    if (problem.status >= 500 && problem.problem === "internal-server-error") report(error);
    return problem.toResponse();
  });

  return Object.assign(app, {
    config,
    catalog,
    registry,
    authRequired: required,
    runSlots,
    async close() {
      runSlots.close();
      await registry.close();
      await Promise.all(catalog.factories().map((f) => f.close?.()));
    },
  });
}

/** Methods that some route serves at this path: a 405 rather than a 404 for them. */
function allowedMethods(app: Hono, path: string): string[] {
  const methods = new Set<string>();
  for (const route of app.routes) {
    if (route.method === "ALL") continue;
    const pattern = new RegExp("^" + route.path.replace(/\/$/, "").replace(/:[^/]+/g, "[^/]+") + "/?$");
    if (pattern.test(path)) methods.add(route.method);
  }
  return [...methods].sort();
}
