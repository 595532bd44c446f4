// Guest source: node:path (POSIX; process.cwd() is /home/work). Defines `path`
// in the scope of the runtime function it is pasted into (guest.ts).

export const GUEST_PATH = String.raw`
const path = (() => {
  const CWD = "/home/work";
  function norm(p, above) {
    const out = [];
    for (const seg of p.split("/")) {
      if (seg === "" || seg === ".") continue;
      if (seg === "..") {
        if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
        else if (above) out.push("..");
      } else out.push(seg);
    }
    return out.join("/");
  }
  const isAbsolute = (p) => String(p).startsWith("/");
  function normalize(p) {
    p = String(p);
    if (p === "") return ".";
    const abs = isAbsolute(p);
    let n = norm(p, !abs);
    if (n === "" && !abs) n = ".";
    if (n !== "" && p.endsWith("/")) n += "/";
    return abs ? "/" + n : n;
  }
  function resolve(...parts) {
    let r = "";
    for (let i = parts.length - 1; i >= -1 && !isAbsolute(r); i--) {
      const p = i >= 0 ? String(parts[i]) : CWD;
      if (p !== "") r = r === "" ? p : p + "/" + r;
    }
    return "/" + norm(r, false);
  }
  const join = (...parts) => normalize(parts.filter((p) => p !== "").join("/") || ".");
  function dirname(p) {
    p = String(p).replace(/\/+$/, "") || (String(p).startsWith("/") ? "/" : "");
    const i = p.lastIndexOf("/");
    return i < 0 ? "." : i === 0 ? "/" : p.slice(0, i);
  }
  function basename(p, ext) {
    const b = String(p).replace(/\/+$/, "").split("/").pop() ?? "";
    return ext && b.endsWith(ext) && b !== ext ? b.slice(0, -ext.length) : b;
  }
  function extname(p) {
    const b = basename(p);
    const i = b.lastIndexOf(".");
    return i <= 0 ? "" : b.slice(i);
  }
  function relative(from, to) {
    const a = resolve(from).split("/").filter(Boolean);
    const b = resolve(to).split("/").filter(Boolean);
    let i = 0;
    while (i < a.length && i < b.length && a[i] === b[i]) i++;
    return [...a.slice(i).map(() => ".."), ...b.slice(i)].join("/");
  }
  function parse(p) {
    const base = basename(p), ext = extname(p), dir = dirname(p);
    return { root: isAbsolute(p) ? "/" : "", dir, base, ext, name: ext ? base.slice(0, -ext.length) : base };
  }
  const format = (o) => (o.dir ? o.dir + "/" : "") + (o.base ?? (o.name ?? "") + (o.ext ?? ""));
  const api = { sep: "/", delimiter: ":", isAbsolute, normalize, resolve, join, dirname, basename, extname, relative, parse, format };
  api.posix = api;
  return api;
})();
`;
