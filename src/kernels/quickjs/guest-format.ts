// Guest source: Node-like util.inspect/util.format for console output inside
// QuickJS (which has no console). Plain JavaScript in a string: it runs in the
// guest, not on the host. Defines `inspect`, `format` and `errorText` in the
// scope of the runtime function it is pasted into (guest.ts).

export const GUEST_FORMAT = String.raw`
const IDENT = /^[A-Za-z_$][\w$]*$/;
function quote(s) {
  return "'" + s.replace(/\\/g, "\\\\").replace(/'/g, "\\'").replace(/\n/g, "\\n") + "'";
}
function errorText(e) {
  const head = String(e.name ?? "Error") + (e.message ? ": " + e.message : "");
  const stack = typeof e.stack === "string" ? e.stack.replace(/\s+$/, "") : "";
  return stack ? head + "\n" + stack : head;
}
function inspect(value, options) {
  const depth = options && options.depth !== undefined ? (options.depth === null ? Infinity : options.depth) : 2;
  const seen = [];
  function fmt(v, level) {
    switch (typeof v) {
      case "string": return quote(v);
      case "number": return Object.is(v, -0) ? "-0" : String(v);
      case "bigint": return v + "n";
      case "symbol": return v.toString();
      case "undefined": return "undefined";
      case "boolean": return String(v);
      case "function": {
        const source = Function.prototype.toString.call(v);
        if (/^class\b/.test(source)) return "[class " + (v.name || "(anonymous)") + "]";
        return v.name ? "[Function: " + v.name + "]" : "[Function (anonymous)]";
      }
    }
    if (v === null) return "null";
    if (seen.includes(v)) return "[Circular *1]";
    if (v instanceof Error) return errorText(v);
    if (v instanceof Date) return isNaN(v.getTime()) ? "Invalid Date" : v.toISOString();
    if (v instanceof RegExp) return String(v);
    if (v instanceof Promise) return "Promise { <pending> }";
    if (level > depth) return Array.isArray(v) ? "[Array]" : "[Object]";
    seen.push(v);
    let prefix = "", open = "{", close = "}", parts;
    if (Array.isArray(v)) {
      open = "["; close = "]";
      parts = v.slice(0, 100).map((x) => fmt(x, level + 1));
      if (v.length > 100) parts.push("... " + (v.length - 100) + " more items");
    } else if (v instanceof Map) {
      prefix = "Map(" + v.size + ") ";
      parts = [...v].map(([k, x]) => fmt(k, level + 1) + " => " + fmt(x, level + 1));
    } else if (v instanceof Set) {
      prefix = "Set(" + v.size + ") ";
      parts = [...v].map((x) => fmt(x, level + 1));
    } else if (ArrayBuffer.isView(v) && typeof v.length === "number") {
      prefix = v.constructor.name + "(" + v.length + ") "; open = "["; close = "]";
      parts = Array.from(v.slice(0, 100), (x) => fmt(x, level + 1));
    } else {
      const proto = Object.getPrototypeOf(v);
      if (proto === null) prefix = "[Object: null prototype] ";
      else if (proto.constructor && proto.constructor.name && proto.constructor.name !== "Object") prefix = proto.constructor.name + " ";
      parts = Object.keys(v).map((k) => (IDENT.test(k) ? k : quote(k)) + ": " + fmt(v[k], level + 1));
    }
    seen.pop();
    if (parts.length === 0) return prefix + open + close;
    const line = prefix + open + " " + parts.join(", ") + " " + close;
    if (line.length <= 72 && !line.includes("\n")) return line;
    return prefix + open + "\n" + parts.map((p) => "  " + p.replace(/\n/g, "\n  ")).join(",\n") + "\n" + close;
  }
  return fmt(value, 0);
}
function format(...args) {
  let out = "";
  let rest = args;
  if (typeof args[0] === "string" && args.length > 1 && args[0].includes("%")) {
    let i = 1;
    out = args[0].replace(/%([sdifjoO%])/g, (m, c) => {
      if (c === "%") return "%";
      if (i >= args.length) return m;
      const a = args[i++];
      switch (c) {
        case "s": return typeof a === "string" ? a : inspect(a, { depth: 1 });
        case "d": case "i": return typeof a === "bigint" ? a + "n" : String(c === "i" ? parseInt(a) : Number(a));
        case "f": return String(parseFloat(a));
        case "j": try { return JSON.stringify(a); } catch { return "[Circular]"; }
        default: return inspect(a);
      }
    });
    rest = args.slice(i);
    if (rest.length > 0) out += " ";
  }
  return out + rest.map((a) => (typeof a === "string" ? a : inspect(a))).join(" ");
}
`;
