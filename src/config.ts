// Server configuration: one valibot schema validates every value, whether it comes
// from createApp() options, the command line or the environment. OPTIONS describes
// each for `kiln serve --help` and the README's configuration table.

import * as v from "valibot";
import { LOG_LEVELS } from "./log/logger.ts";

const MiB = 1024 * 1024;

/** Flags and env vars arrive as strings: a string of digits becomes its number, anything else stays and fails. */
const Digits = v.pipe(
  v.union([v.number(), v.string()]),
  v.transform((x) => (typeof x === "string" && /^\s*\d+\s*$/.test(x) ? Number(x) : x)),
);

/** A whole number from min to max. */
function int(min: number, fallback: number, max = Number.MAX_SAFE_INTEGER) {
  return v.optional(
    v.pipe(Digits, v.number("must be a whole number"), v.integer("must be a whole number"), v.minValue(min, `must be at least ${min}`), v.maxValue(max, `must be at most ${max}`)),
    fallback,
  );
}

/** The longest wait setTimeout can do; Node fires a longer timer after 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export const ConfigSchema = v.object({
  host: v.optional(v.pipe(v.string(), v.nonEmpty()), "127.0.0.1"),
  port: v.optional(v.pipe(Digits, v.number("must be a port number"), v.integer("must be a port number"), v.minValue(0), v.maxValue(65535, "must be a port number")), 8090),
  /** Where disk-backed sessions live; a directory per session. */
  dataDir: v.optional(v.pipe(v.string(), v.nonEmpty())),
  maxSessions: int(1, 1000),
  idleTimeoutMs: int(1, 30 * 60 * 1000),
  idleTrimMs: int(0, 10_000, MAX_TIMER_MS),
  flushIntervalMs: int(1, 2000, MAX_TIMER_MS),
  stepTimeoutMs: int(1, 60_000),
  runOutputMaxBytes: int(1024, 16 * MiB),
  sessionMaxBytes: int(0, 256 * MiB),
  sessionMaxFiles: int(0, 10_000),
  consoleCapChars: int(1024, 524_288),
  uploadMaxFiles: int(1, 20),
  uploadMaxFileBytes: int(1, MiB),
  downloadMaxPaths: int(1, 5),
  bodyLimitBytes: int(1024, 8 * MiB),
  defaultMemoryMiB: int(16, 512),
  maxMemoryMiB: int(16, 4096),
  defaultCpus: int(1, 1),
  maxCpus: int(1, 2),
  /** How long a request body may take to arrive before 408. */
  requestTimeoutMs: int(1000, 30_000),
  /** auto: on unless host is a loopback address (see auth/policy.ts). */
  auth: v.optional(v.picklist(["auto", "on", "off"], "must be auto, on or off"), "auto"),
  /** A JSON list of keypairs (auth/keys.ts); the CLI also reads the default file and env vars. */
  keysFile: v.optional(v.pipe(v.string(), v.nonEmpty())),
  /** Requests per window per access key, unless the key says otherwise; 0: no limit. */
  rateLimit: int(0, 1200),
  rateLimitWindowMs: int(1000, 60_000),
  /** Requests per window per client address when authentication is off; 0: no limit. */
  anonymousRateLimit: int(0, 0),
  /** Runs executing at once, server-wide and per key; more wait in a queue of runQueueSize, then 503. */
  maxRuns: int(1, 64),
  maxRunsPerKey: int(1, 16),
  runQueueSize: int(0, 256),
  /** The least severe log line written: requests are info (warn when refused), unexpected errors error. */
  logLevel: v.optional(v.picklist(LOG_LEVELS, `must be one of ${LOG_LEVELS.join(", ")}`), "info"),
  /** Which kernel serves JavaScript and TypeScript: auto takes isolated-vm where it loads, else QuickJS. */
  jsKernel: v.optional(v.picklist(["auto", "isolate", "quickjs"], "must be one of auto, isolate, quickjs"), "auto"),
});

export type KilnConfig = v.InferOutput<typeof ConfigSchema>;
export type KilnConfigInput = v.InferInput<typeof ConfigSchema>;

export interface OptionDoc {
  key: keyof KilnConfig;
  flag: string;
  env: string;
  help: string;
}

export const OPTIONS: readonly OptionDoc[] = [
  { key: "host", flag: "--host", env: "KILN_HOST", help: "address to listen on; a non-loopback address exposes the API to the network" },
  { key: "port", flag: "--port", env: "KILN_PORT", help: "port to listen on (PORT is honoured too); 0 picks a free one" },
  { key: "dataDir", flag: "--data-dir", env: "KILN_DATA_DIR", help: "directory for disk-backed sessions (default: $XDG_DATA_HOME/kiln/sessions or ~/.local/share/kiln/sessions)" },
  { key: "maxSessions", flag: "--max-sessions", env: "KILN_MAX_SESSIONS", help: "live sessions at most; more → 503" },
  { key: "idleTimeoutMs", flag: "--idle-timeout-ms", env: "KILN_IDLE_TIMEOUT_MS", help: "an idle session is destroyed after this long" },
  { key: "idleTrimMs", flag: "--idle-trim-ms", env: "KILN_IDLE_TRIM_MS", help: "after this long without sessions the server gives memory back (replaces a grown isolate sandbox process, collects the heap); 0 never" },
  { key: "flushIntervalMs", flag: "--flush-interval-ms", env: "KILN_FLUSH_INTERVAL_MS", help: "an execute call answers `continued` after this long without a control event" },
  { key: "stepTimeoutMs", flag: "--step-timeout-ms", env: "KILN_STEP_TIMEOUT_MS", help: "wall-clock limit of one batch step or query → exec-timeout; a session may ask for less (config.limits.stepTimeoutMs)" },
  { key: "runOutputMaxBytes", flag: "--run-output-max-bytes", env: "KILN_RUN_OUTPUT_MAX_BYTES", help: "output bytes per run; past it output is dropped with a note; a session may ask for less (config.limits.outputBytes)" },
  { key: "sessionMaxBytes", flag: "--session-max-bytes", env: "KILN_SESSION_MAX_BYTES", help: "bytes of files per session; more → 412 quota-exceeded" },
  { key: "sessionMaxFiles", flag: "--session-max-files", env: "KILN_SESSION_MAX_FILES", help: "files and directories per session; more → 412 quota-exceeded" },
  { key: "consoleCapChars", flag: "--console-cap-chars", env: "KILN_CONSOLE_CAP_CHARS", help: "stdout and stderr characters each per execute answer; the rest is dropped and marked" },
  { key: "uploadMaxFiles", flag: "--upload-max-files", env: "KILN_UPLOAD_MAX_FILES", help: "files per upload request" },
  { key: "uploadMaxFileBytes", flag: "--upload-max-file-bytes", env: "KILN_UPLOAD_MAX_FILE_BYTES", help: "bytes per uploaded file" },
  { key: "downloadMaxPaths", flag: "--download-max-paths", env: "KILN_DOWNLOAD_MAX_PATHS", help: "paths per download request" },
  { key: "bodyLimitBytes", flag: "--body-limit-bytes", env: "KILN_BODY_LIMIT_BYTES", help: "largest JSON request body; more → 413" },
  { key: "defaultMemoryMiB", flag: "--default-memory-mib", env: "KILN_DEFAULT_MEMORY_MIB", help: "memory of a session that asks for none" },
  { key: "maxMemoryMiB", flag: "--max-memory-mib", env: "KILN_MAX_MEMORY_MIB", help: "most memory a session may ask for (config.resources.mem)" },
  { key: "defaultCpus", flag: "--default-cpus", env: "KILN_DEFAULT_CPUS", help: "CPU cores of a session that asks for none" },
  { key: "maxCpus", flag: "--max-cpus", env: "KILN_MAX_CPUS", help: "most CPU cores a session may ask for (config.resources.cpu)" },
  { key: "requestTimeoutMs", flag: "--request-timeout-ms", env: "KILN_REQUEST_TIMEOUT_MS", help: "a request body slower than this gets 408" },
  { key: "auth", flag: "--auth", env: "KILN_AUTH", help: "auto, on or off; auto: required unless --host is a loopback address" },
  { key: "keysFile", flag: "--keys-file", env: "KILN_KEYS_FILE", help: "JSON file of keypairs, mode 0600 (default: $XDG_CONFIG_HOME/kiln/keys.json or ~/.config/kiln/keys.json); `kiln keygen` adds one" },
  { key: "rateLimit", flag: "--rate-limit", env: "KILN_RATE_LIMIT", help: "requests per window per access key (a key's rateLimit wins); more → 429; 0: no limit" },
  { key: "rateLimitWindowMs", flag: "--rate-limit-window-ms", env: "KILN_RATE_LIMIT_WINDOW_MS", help: "the rolling window of --rate-limit and --anonymous-rate-limit" },
  { key: "anonymousRateLimit", flag: "--anonymous-rate-limit", env: "KILN_ANONYMOUS_RATE_LIMIT", help: "with authentication off: requests per window per client address; 0: no limit" },
  { key: "maxRuns", flag: "--max-runs", env: "KILN_MAX_RUNS", help: "runs executing at once, server-wide; more wait in the run queue" },
  { key: "maxRunsPerKey", flag: "--max-runs-per-key", env: "KILN_MAX_RUNS_PER_KEY", help: "runs executing at once per access key (per session without authentication); more wait in the run queue" },
  { key: "runQueueSize", flag: "--run-queue-size", env: "KILN_RUN_QUEUE_SIZE", help: "runs waiting for a slot at most; more → 503" },
  { key: "logLevel", flag: "--log-level", env: "KILN_LOG_LEVEL", help: "debug, info, warn, error or silent: the least severe JSON log line written to stdout (a request is info, warn when answered 4xx or 5xx; an unexpected error is error)" },
  { key: "jsKernel", flag: "--js-kernel", env: "KILN_JS_KERNEL", help: "auto, isolate or quickjs: the JavaScript/TypeScript kernel; auto takes isolate (isolated-vm) where it loads, else quickjs (WebAssembly)" },
];

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Validates raw values; the message names every bad option. */
export function parseConfig(input: Record<string, unknown>): KilnConfig {
  const result = v.safeParse(ConfigSchema, input);
  if (result.success) return result.output;
  const lines = result.issues.map((issue) => {
    const key = v.getDotPath(issue) ?? "config";
    const doc = OPTIONS.find((o) => o.key === key);
    return `${doc ? `${doc.flag} / ${doc.env}` : key}: ${issue.message}`;
  });
  throw new ConfigError(`Invalid configuration:\n  ${lines.join("\n  ")}`);
}
