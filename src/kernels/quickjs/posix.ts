// The two POSIX path operations the host side of the QuickJS kernel needs,
// without node:path so the kernel stays runtime-neutral.

export function dirname(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

/** `spec` against the directory `dir` (both absolute or spec absolute), normalised. */
export function resolvePath(dir: string, spec: string): string {
  const out: string[] = [];
  for (const seg of (spec.startsWith("/") ? spec : `${dir}/${spec}`).split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") out.pop();
    else out.push(seg);
  }
  return `/${out.join("/")}`;
}
