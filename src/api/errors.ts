// Errors of the layers below api/ → Backend.AI problems. The only place that
// knows which status a session, file or upload failure gets.

import { UploadError } from "../archive/multipart.ts";
import { SessionError, type SessionErrorCode } from "../sessions/errors.ts";
import { PathError, toWorkPath } from "../vfs/paths.ts";
import { VfsError } from "../vfs/vfs.ts";
import { invalidParams, notFound, Problem } from "./problem.ts";

const SESSION_PROBLEMS: Record<SessionErrorCode, (e: SessionError) => Problem> = {
  "session-exists": (e) => new Problem("session-already-exists", e.message, e.data),
  "no-such-session": (e) => notFound("session", e.message),
  "too-many-sessions": (e) => new Problem("service-unavailable", e.message),
  "unknown-image": (e) => notFound("environment image", e.message),
  "unavailable-image": (e) => new Problem("instance-not-available", e.message),
  "over-limit": (e) => new Problem("quota-exceeded", e.message),
  "kernel-failed": (e) => new Problem("kernel-creation-failed", e.message),
  "restart-failed": (e) => new Problem("kernel-restart-failed", e.message),
  "no-such-run": (e) => notFound("run", e.message),
  "run-active": (e) => invalidParams(e.message),
  "not-waiting-input": (e) => invalidParams(e.message),
  "too-many-runs": (e) => new Problem("service-unavailable", e.message),
};

function vfsProblem(error: VfsError): Problem {
  const where = toWorkPath(error.path);
  switch (error.code) {
    case "ENOENT":
      return notFound("file or directory", `${where} does not exist.`);
    case "EQUOTA":
      return new Problem("quota-exceeded", `The session's file quota would be exceeded${error.message ? `: ${error.message}` : "."}`);
    case "ESYMLINK":
      return invalidParams(`${where} is or goes through a symbolic link, which Kiln does not follow.`);
    case "EISDIR":
      return invalidParams(`${where} is a directory.`);
    case "ENOTDIR":
      return invalidParams(`${where} is not a directory.`);
    case "EEXIST":
      return invalidParams(`${where} already exists.`);
    case "ENOTEMPTY":
      return invalidParams(`${where} is not empty.`);
    case "EINVAL":
      return invalidParams(`${where}: ${error.message}`);
  }
}

export function toProblem(error: unknown): Problem {
  if (error instanceof Problem) return error;
  if (error instanceof SessionError) return SESSION_PROBLEMS[error.code](error);
  if (error instanceof VfsError) return vfsProblem(error);
  if (error instanceof PathError) return invalidParams(error.message);
  if (error instanceof UploadError) return invalidParams(error.message, { reason: error.reason });
  return new Problem("internal-server-error");
}
