// What both backends need to read session paths and check a batch of writes. Session
// paths come from paths.ts already normalised; anything else is a caller's bug (EINVAL).

import type { Quota } from "./vfs.ts";
import { VfsError } from "./vfs.ts";

export const DEFAULT_QUOTA: Quota = Object.freeze({ maxBytes: 256 * 1024 * 1024, maxFiles: 10_000 });

/** Splits a session path into names, refusing anything paths.ts would never produce. */
export function splitPath(path: string): string[] {
  if (typeof path !== "string" || path.startsWith("/") || path.includes("\0")) {
    throw new VfsError("EINVAL", String(path), `EINVAL: not a session path: ${JSON.stringify(path)}`);
  }
  if (path === "") return [];
  const parts = path.split("/");
  for (const part of parts) {
    if (part === "" || part === "." || part === "..") {
      throw new VfsError("EINVAL", path, `EINVAL: not a session path: ${JSON.stringify(path)}`);
    }
  }
  return parts;
}

/** Splits a path that must not be the root (the root can't be written, removed or moved). */
export function splitChild(path: string): { parents: string[]; name: string } {
  const parts = splitPath(path);
  const name = parts.pop();
  if (name === undefined) throw new VfsError("EINVAL", path, "EINVAL: not allowed on the root directory");
  return { parents: parts, name };
}

/** Paths in the batch that name an ancestor of another path in it: a file can't also be a directory. */
export function checkBatchConflicts(paths: Iterable<string>): void {
  const all = new Set(paths);
  for (const path of all) {
    for (let i = path.indexOf("/"); i >= 0; i = path.indexOf("/", i + 1)) {
      if (all.has(path.slice(0, i))) throw new VfsError("ENOTDIR", path);
    }
  }
}

/** Code-unit order, the same on every backend. */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
