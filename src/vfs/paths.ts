// The one place where a client's path becomes a session path (see vfs.ts).
// Nothing is decoded here: "%2e%2e" stays a harmless literal name. What could mean
// something else to another tool (a NUL, control characters, backslashes, Unicode
// that normalises to "." or "..") is refused rather than guessed at.

export const WORK_DIR = "/home/work";

const MAX_PATH_BYTES = 4096;
const MAX_NAME_BYTES = 255;
const encoder = new TextEncoder();

export class PathError extends Error {
  override name = "PathError";
  constructor(
    readonly input: string,
    readonly reason: string,
  ) {
    super(`Invalid path ${JSON.stringify(input.length > 200 ? input.slice(0, 200) + "…" : input)}: ${reason}`);
  }
}

/**
 * Turns a client path (relative to /home/work, or absolute under it) into a session path.
 * "", ".", "/home/work" and "/home/work/" all name the root, "".
 */
export function toSessionPath(input: string): string {
  if (typeof input !== "string") throw new PathError(String(input), "not a string");
  if (encoder.encode(input).length > MAX_PATH_BYTES) throw new PathError(input, `longer than ${MAX_PATH_BYTES} bytes`);
  // Control characters (NUL included, C1 too) break headers, archives and shells alike.
  if (/[\u0000-\u001f\u007f-\u009f]/.test(input)) throw new PathError(input, "control characters are not allowed");
  // A lone surrogate has no UTF-8 form: the host would store U+FFFD, so two session
  // paths would name one file.
  if (/\p{Cs}/u.test(input)) throw new PathError(input, "not well-formed Unicode");
  if (input.includes("\\")) throw new PathError(input, "backslashes are not allowed");

  let rest = input;
  if (rest.startsWith("/")) {
    if (rest !== WORK_DIR && !rest.startsWith(WORK_DIR + "/")) {
      throw new PathError(input, `absolute paths must be under ${WORK_DIR}`);
    }
    rest = rest.slice(WORK_DIR.length);
  }

  const out: string[] = [];
  for (const segment of rest.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") {
      if (out.length === 0) throw new PathError(input, `escapes ${WORK_DIR}`);
      out.pop();
      continue;
    }
    const folded = segment.normalize("NFKC");
    if (folded === "." || folded === ".." || folded.includes("/") || folded.includes("\\")) {
      throw new PathError(input, "a name that normalises to a path separator or dot segment");
    }
    if (encoder.encode(segment).length > MAX_NAME_BYTES) throw new PathError(input, `a name longer than ${MAX_NAME_BYTES} bytes`);
    out.push(segment);
  }
  return out.join("/");
}

/** The absolute in-session path of a session path, as clients see it. */
export function toWorkPath(sessionPath: string): string {
  return sessionPath === "" ? WORK_DIR : `${WORK_DIR}/${sessionPath}`;
}

/** The last segment of a session path ("work" for the root, as `tar` of /home/work would name it). */
export function baseName(sessionPath: string): string {
  if (sessionPath === "") return "work";
  return sessionPath.slice(sessionPath.lastIndexOf("/") + 1);
}

/** The parent of a session path; the root's parent is the root. */
export function parentPath(sessionPath: string): string {
  const i = sessionPath.lastIndexOf("/");
  return i < 0 ? "" : sessionPath.slice(0, i);
}

/** Joins a session directory path and a child name. */
export function joinPath(dir: string, name: string): string {
  return dir === "" ? name : `${dir}/${name}`;
}
