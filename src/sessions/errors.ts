// What the session layer refuses, in its own words. api/ maps each code to a
// Backend.AI problem; nothing here knows HTTP.

export type SessionErrorCode =
  | "session-exists" // same name, other image or reuse disabled (data.existingSessionId)
  | "no-such-session"
  | "too-many-sessions" // the server's live-session limit
  | "unknown-image"
  | "unavailable-image" // a known language with no kernel on this server
  | "over-limit" // resources asked beyond the server's maximum
  | "kernel-failed" // a kernel (or its files) could not be created
  | "restart-failed" // the kernel could not be restarted
  | "no-such-run"
  | "run-active" // a new query/batch reusing the runId of an unfinished run
  | "not-waiting-input"
  | "too-many-runs"; // the session's queue of runs is full

export class SessionError extends Error {
  override name = "SessionError";
  constructor(
    readonly code: SessionErrorCode,
    message: string,
    readonly data?: Record<string, unknown>,
  ) {
    super(message);
  }
}
