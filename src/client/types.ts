// What Kiln's endpoints take and answer, as the client sees them on the wire
// (README "Endpoints"). Kept apart from the server's types: the client must not
// pull the server in.

/** GET / */
export interface ServerVersion {
  /** The Backend.AI API version, "v8.20240915". */
  version: string;
  /** Kiln's own version. */
  manager: string;
}

export type SessionStatus = "RUNNING" | "RESTARTING" | "TERMINATING" | "TERMINATED";

export interface CreateSessionOptions {
  /** Language or image reference: "javascript", "c", "cr.backend.ai/stable/python:3.11-ubuntu22.04". */
  lang: string;
  /** 4–64 characters of letters, digits, _, . and -; default a random "kiln-…" name. */
  name?: string;
  environ?: Record<string, string>;
  /** CPU cores, and memory as bytes or a size such as "512m". */
  resources?: { cpu?: number; mem?: number | string };
  /** Tighter limits than the server's for this session. */
  limits?: { stepTimeoutMs?: number; outputBytes?: number };
  /** Reuse a live session of the same name and image (default true) instead of a 400. */
  reuseIfExists?: boolean;
  tag?: string;
}

/** POST /session */
export interface CreatedSession {
  sessionId: string;
  sessionName: string;
  status: SessionStatus;
  /** False when a live session of that name was reused. */
  created: boolean;
}

/** One entry of GET /sessions. */
export interface SessionSummary {
  sessionId: string;
  sessionName: string;
  image: string;
  kernel: string;
  status: SessionStatus;
  tag: string | null;
  /** Milliseconds since creation. */
  age: number;
  creationTime: string;
  lastActivityTime: string;
  numQueriesExecuted: number;
}

/** GET /session/:id */
export interface SessionInfo extends SessionSummary {
  lang: string;
  environ: Record<string, string>;
  resources: { cpu: number; mem: string };
  limits: {
    memoryMiB: number;
    cpus: number;
    stepTimeoutMs: number;
    outputBytes: number;
    maxBytes: number;
    maxFiles: number;
    uploadMaxFiles: number;
    uploadMaxFileBytes: number;
    consoleCapChars: number;
  };
  usage: { bytes: number; files: number };
}

export type ConsoleItem =
  | ["stdout", string]
  | ["stderr", string]
  | ["media", [mime: string, content: string]]
  | ["html", string]
  | ["log", [level: string, time: string, logger: string, message: string]];

export type RunStatus = "continued" | "clean-finished" | "build-finished" | "waiting-input" | "finished" | "exec-timeout";

/** The body of POST /session/:id, one call of Backend.AI's execute. */
export interface ExecuteRequest {
  mode: "query" | "batch" | "continue" | "input";
  runId?: string | null;
  code?: string;
  options?: BatchCommands | null;
}

/** The `result` of one execute call. */
export interface ExecuteResult {
  runId: string;
  status: RunStatus;
  exitCode: number | null;
  options: Record<string, unknown> | null;
  files: unknown[];
  console: ConsoleItem[];
}

/** Batch commands; "*" is the language's default, "" or null skips the step. */
export interface BatchCommands {
  clean?: string | null;
  build?: string | null;
  exec?: string | null;
}

/** One entry of GET /session/:id/files, with its kind read off `mode`. */
export interface FileEntry {
  filename: string;
  /** "-rw-r--r--", "drwxr-xr-x", "lrwxrwxrwx". */
  mode: string;
  size: number;
  /** Seconds since the epoch. */
  ctime: number;
  mtime: number;
  atime: number;
  kind: "file" | "dir" | "symlink";
}

/** Bytes moved so far; total is null when the server does not say. */
export interface Progress {
  loaded: number;
  total: number | null;
}

export type ProgressListener = (progress: Progress) => void;
