// node:path (POSIX only: the sandbox is /home/work on Linux), after Node's own
// algorithms, with process.cwd() fixed at /home/work.

export const CWD = "/home/work";

function normalizeString(path: string, allowAboveRoot: boolean): string {
  const out: string[] = [];
  for (const seg of path.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (allowAboveRoot) out.push("..");
    } else out.push(seg);
  }
  return out.join("/");
}

function check(path: unknown, name = "path"): asserts path is string {
  if (typeof path !== "string") {
    const err = new TypeError(`The "${name}" argument must be of type string. Received ${typeof path}`) as TypeError & { code: string };
    err.code = "ERR_INVALID_ARG_TYPE";
    throw err;
  }
}

export function resolve(...paths: string[]): string {
  let resolved = "";
  let absolute = false;
  for (let i = paths.length - 1; i >= -1 && !absolute; i--) {
    const p = i >= 0 ? paths[i]! : CWD;
    check(p, `paths[${i}]`);
    if (p === "") continue;
    resolved = `${p}/${resolved}`;
    absolute = p.startsWith("/");
  }
  const norm = normalizeString(resolved, !absolute);
  return absolute ? `/${norm}` : norm || ".";
}

export function normalize(path: string): string {
  check(path);
  if (path === "") return ".";
  const absolute = path.startsWith("/");
  const trailing = path.endsWith("/");
  let norm = normalizeString(path, !absolute);
  if (norm === "" && !absolute) norm = ".";
  if (norm !== "" && trailing) norm += "/";
  return absolute ? `/${norm}` : norm;
}

export function isAbsolute(path: string): boolean {
  check(path);
  return path.startsWith("/");
}

export function join(...paths: string[]): string {
  for (const p of paths) check(p);
  const joined = paths.filter((p) => p !== "").join("/");
  return joined === "" ? "." : normalize(joined);
}

export function relative(from: string, to: string): string {
  check(from, "from");
  check(to, "to");
  const a = resolve(from).split("/").filter(Boolean);
  const b = resolve(to).split("/").filter(Boolean);
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return [...a.slice(i).map(() => ".."), ...b.slice(i)].join("/");
}

export function dirname(path: string): string {
  check(path);
  if (path === "") return ".";
  const trimmed = path.replace(/\/+$/, "");
  if (trimmed === "") return "/";
  const i = trimmed.lastIndexOf("/");
  if (i < 0) return ".";
  if (i === 0) return "/";
  return trimmed.slice(0, i).replace(/\/+$/, "") || "/";
}

export function basename(path: string, ext?: string): string {
  check(path);
  const trimmed = path.replace(/\/+$/, "");
  let base = trimmed.slice(trimmed.lastIndexOf("/") + 1);
  if (ext !== undefined && base.endsWith(ext) && base !== ext) base = base.slice(0, -ext.length);
  return base;
}

export function extname(path: string): string {
  check(path);
  const base = basename(path);
  const i = base.lastIndexOf(".");
  return i <= 0 ? "" : base.slice(i);
}

export interface ParsedPath {
  root: string;
  dir: string;
  base: string;
  ext: string;
  name: string;
}

export function parse(path: string): ParsedPath {
  check(path);
  const root = path.startsWith("/") ? "/" : "";
  const base = basename(path);
  const ext = extname(path);
  const d = dirname(path);
  const dir = path.includes("/") ? d : "";
  return { root, dir, base, ext, name: ext ? base.slice(0, -ext.length) : base };
}

export function format(p: Partial<ParsedPath>): string {
  const dir = p.dir || p.root || "";
  const base = p.base || `${p.name ?? ""}${p.ext ? (p.ext.startsWith(".") ? "" : ".") + p.ext : ""}`;
  if (!dir) return base;
  return dir === p.root ? `${dir}${base}` : `${dir}/${base}`;
}

export function toNamespacedPath(path: string): string {
  return path;
}

export const sep = "/";
export const delimiter = ":";

const path = { resolve, normalize, isAbsolute, join, relative, dirname, basename, extname, parse, format, toNamespacedPath, sep, delimiter } as Record<string, unknown>;
path.posix = path;
path.win32 = path;
export default path;
