// Structured logs: one JSON object per line, {"time", "level", "msg", ...fields},
// written to a sink the caller chooses (kiln serve: stdout). Kiln's own rather
// than pino: one line per request needs no transports or worker threads, and
// this stays plain JavaScript on every runtime.

export const LOG_LEVELS = ["debug", "info", "warn", "error", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
/** The levels a line can have. */
export type LineLevel = Exclude<LogLevel, "silent">;

/** Receives each line (without a newline) that passes the level. */
export type LogSink = (line: string, level: LineLevel) => void;

/** What an embedded app logs without a sink of its own: error lines, to stderr; requests stay quiet. */
export const consoleErrors: LogSink = (line, level) => {
  if (level === "error") console.error(line);
};

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: Infinity };

export class Logger {
  private readonly threshold: number;

  constructor(
    level: LogLevel,
    private readonly sink: LogSink,
  ) {
    this.threshold = RANK[level];
  }

  /** Whether a line of this level would be written: callers skip building fields otherwise. */
  enabled(level: LineLevel): boolean {
    return RANK[level] >= this.threshold;
  }

  log(level: LineLevel, msg: string, fields: Record<string, unknown> = {}): void {
    if (!this.enabled(level)) return;
    this.sink(JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }, replacer), level);
  }

  debug(msg: string, fields?: Record<string, unknown>): void {
    this.log("debug", msg, fields);
  }

  info(msg: string, fields?: Record<string, unknown>): void {
    this.log("info", msg, fields);
  }

  warn(msg: string, fields?: Record<string, unknown>): void {
    this.log("warn", msg, fields);
  }

  error(msg: string, fields?: Record<string, unknown>): void {
    this.log("error", msg, fields);
  }
}

/** Errors keep their name, message and stack (JSON.stringify would give {}); bigints become strings. */
function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { type: value.name, message: value.message, stack: value.stack, ...(value.cause !== undefined && { cause: value.cause }) };
  if (typeof value === "bigint") return value.toString();
  return value;
}
