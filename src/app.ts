// createApp(options): the whole Kiln API as a Hono app. Runtime-neutral: it
// serves Web-standard Requests through app.fetch, on any server or none.

import { Hono } from "hono";
import { authMiddleware } from "./api/auth.ts";
import { docsDocs, docsRoutes } from "./api/docs.ts";
import { executeDocs, executeRoutes } from "./api/execute.ts";
import { toProblem } from "./api/errors.ts";
import { fileDocs, fileRoutes } from "./api/files.ts";
import { healthDocs, healthRoutes } from "./api/health.ts";
import { requestLog } from "./api/logging.ts";
import { downloadBytes, metricsDocs, metricsRoutes, requestMetrics, uploadBytes } from "./api/metrics.ts";
import { openApiDocs, openApiDocument, openApiRoutes } from "./api/openapi.ts";
import { Problem } from "./api/problem.ts";
import { rateLimitMiddleware } from "./api/ratelimit.ts";
import { sessionDocs, sessionListRoutes, sessionRoutes } from "./api/sessions.ts";
import { versionDocs, versionRoutes } from "./api/version.ts";
import { KeyStore, type Keypair } from "./auth/keys.ts";
import { readKeysFile } from "./auth/keys-file.ts";
import { authRequired, checkAuthConfig } from "./auth/policy.ts";
import { RateLimiter } from "./auth/rate-limiter.ts";
import { RunSlots } from "./auth/run-slots.ts";
import { parseConfig, type KilnConfig, type KilnConfigInput } from "./config.ts";
import { Catalog } from "./kernels/catalog.ts";
import type { KernelFactory } from "./kernels/kernel.ts";
import { consoleErrors, Logger, type LogSink } from "./log/logger.ts";
import { KilnMetrics } from "./metrics/kiln.ts";
import { Registry } from "./sessions/registry.ts";
import { VERSION } from "./version.ts";

export { API_VERSION } from "./api/version.ts";

export interface AppOptions {
  config?: KilnConfigInput;
  /** The kernels this server offers; see kernels/defaults.ts for the ones `kiln serve` loads. */
  kernels?: readonly KernelFactory[];
  /**
   * Where the JSON log lines that pass config.logLevel go, unexpected errors (the 500s) among them.
   * Default: error lines to console.error, nothing else; `kiln serve` passes stdout.
   */
  log?: LogSink;
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
  /** The app's structured log (config.logLevel, options.log). */
  readonly log: Logger;
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
  const log = new Logger(config.logLevel, options.log ?? consoleErrors);
  // The gauges read the registry at scrape time, once it exists.
  const metrics = new KilnMetrics({ images: () => Object.keys(catalog.available()), sessions: () => registry.sessions(), runSlots: () => runSlots.stats });
  const registry: Registry = new Registry(config, catalog, { observer: metrics, runGate: runSlots });
  const docs = [versionDocs, healthDocs, openApiDocs, docsDocs, metricsDocs, sessionDocs, executeDocs, fileDocs];

  const app = new Hono();
  app.use(requestLog(log), requestMetrics(metrics));
  // Public, before authentication: clients read the API version before they sign anything; probes and readers of the docs have no keys.
  app.route("/", versionRoutes());
  app.route("/", healthRoutes(catalog, registry));
  app.route("/", openApiRoutes(() => openApiDocument(docs, { version: VERSION, authRequired: required })));
  app.route("/", docsRoutes());
  app.use(authMiddleware({ keys: keyStore, rateLimit: config.rateLimit, anonymousRateLimit: config.anonymousRateLimit, now }));
  app.use(rateLimitMiddleware(new RateLimiter({ windowMs: config.rateLimitWindowMs, now })));
  app.route("/", metricsRoutes(metrics));
  app.use("/session/:id/upload", uploadBytes(metrics));
  app.use("/session/:id/download", downloadBytes(metrics));
  app.use("/session/:id/download_single", downloadBytes(metrics));
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
  app.onError((error, c) => {
    const problem = toProblem(error);
    if (problem.status >= 500 && problem.problem === "internal-server-error") log.error("unexpected error", { reqId: c.get("requestId"), err: error });
    return problem.toResponse();
  });

  return Object.assign(app, {
    config,
    catalog,
    registry,
    authRequired: required,
    runSlots,
    log,
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
