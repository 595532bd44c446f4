// Text codecs the isolate lacks (V8 has no TextEncoder, atob or Buffer): UTF-8,
// UTF-16LE, Latin-1, ASCII, hex and base64, as Node's Buffer understands them.

export type Encoding = "utf8" | "utf16le" | "latin1" | "ascii" | "hex" | "base64" | "base64url";

export function normalizeEncoding(enc: unknown): Encoding {
  if (enc === undefined || enc === null) return "utf8";
  switch (String(enc).toLowerCase()) {
    case "utf8":
    case "utf-8":
      return "utf8";
    case "ucs2":
    case "ucs-2":
    case "utf16le":
    case "utf-16le":
      return "utf16le";
    case "latin1":
    case "binary":
      return "latin1";
    case "ascii":
      return "ascii";
    case "hex":
      return "hex";
    case "base64":
      return "base64";
    case "base64url":
      return "base64url";
  }
  const err = new TypeError(`Unknown encoding: ${String(enc)}`) as TypeError & { code: string };
  err.code = "ERR_UNKNOWN_ENCODING";
  throw err;
}

export function isEncoding(enc: unknown): boolean {
  try {
    normalizeEncoding(enc);
    return typeof enc === "string";
  } catch {
    return false;
  }
}

export function utf8Encode(str: string): Uint8Array {
  const out = new Uint8Array(str.length * 3);
  let n = 0;
  for (let i = 0; i < str.length; i++) {
    let c = str.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < str.length) {
      const d = str.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      } else c = 0xfffd;
    } else if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    if (c < 0x80) out[n++] = c;
    else if (c < 0x800) {
      out[n++] = 0xc0 | (c >> 6);
      out[n++] = 0x80 | (c & 63);
    } else if (c < 0x10000) {
      out[n++] = 0xe0 | (c >> 12);
      out[n++] = 0x80 | ((c >> 6) & 63);
      out[n++] = 0x80 | (c & 63);
    } else {
      out[n++] = 0xf0 | (c >> 18);
      out[n++] = 0x80 | ((c >> 12) & 63);
      out[n++] = 0x80 | ((c >> 6) & 63);
      out[n++] = 0x80 | (c & 63);
    }
  }
  return out.slice(0, n);
}

/** Decodes UTF-8 with U+FFFD for malformed sequences, like TextDecoder. */
export function utf8Decode(bytes: Uint8Array, start = 0, end = bytes.length): string {
  const parts: string[] = [];
  let codes: number[] = [];
  let i = start;
  while (i < end) {
    const b = bytes[i]!;
    let cp = 0xfffd;
    let need = 0;
    if (b < 0x80) {
      cp = b;
    } else if (b >= 0xc2 && b < 0xe0) {
      need = 1;
      cp = b & 0x1f;
    } else if (b >= 0xe0 && b < 0xf0) {
      need = 2;
      cp = b & 0x0f;
    } else if (b >= 0xf0 && b < 0xf5) {
      need = 3;
      cp = b & 0x07;
    }
    i++;
    if (need > 0) {
      const lower = b === 0xe0 ? 0xa0 : b === 0xf0 ? 0x90 : 0x80;
      const upper = b === 0xed ? 0x9f : b === 0xf4 ? 0x8f : 0xbf;
      let ok = true;
      for (let k = 0; k < need; k++) {
        const c = bytes[i];
        if (i >= end || c === undefined || c < (k === 0 ? lower : 0x80) || c > (k === 0 ? upper : 0xbf)) {
          ok = false;
          break;
        }
        cp = (cp << 6) | (c & 0x3f);
        i++;
      }
      if (!ok) cp = 0xfffd;
    }
    if (cp > 0xffff) {
      cp -= 0x10000;
      codes.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
    } else codes.push(cp);
    if (codes.length >= 8192) {
      parts.push(String.fromCharCode(...codes));
      codes = [];
    }
  }
  parts.push(String.fromCharCode(...codes));
  return parts.join("");
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const B64_LOOKUP = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) {
  B64_LOOKUP[B64.charCodeAt(i)] = i;
  B64_LOOKUP[B64URL.charCodeAt(i)] = i;
}

export function base64Encode(bytes: Uint8Array, url = false): string {
  const table = url ? B64URL : B64;
  let out = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += table[n >> 18]! + table[(n >> 12) & 63]! + table[(n >> 6) & 63]! + table[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += table[n >> 18]! + table[(n >> 12) & 63]! + (url ? "" : "==");
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += table[n >> 18]! + table[(n >> 12) & 63]! + table[(n >> 6) & 63]! + (url ? "" : "=");
  }
  return out;
}

/** Lenient like Node: skips characters outside the alphabet, stops at padding. */
export function base64Decode(str: string): Uint8Array {
  const out = new Uint8Array(Math.ceil((str.length * 3) / 4));
  let n = 0;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < str.length; i++) {
    const c = str.charCodeAt(i);
    if (c === 61) break;
    const v = c < 128 ? B64_LOOKUP[c]! : -1;
    if (v < 0) continue;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (acc >> bits) & 0xff;
    }
  }
  return out.slice(0, n);
}

export function hexEncode(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += (bytes[i]! < 16 ? "0" : "") + bytes[i]!.toString(16);
  return out;
}

export function hexDecode(str: string): Uint8Array {
  const out = new Uint8Array(str.length >> 1);
  let n = 0;
  for (; n < out.length; n++) {
    const v = parseInt(str.substr(n * 2, 2), 16);
    if (Number.isNaN(v)) break;
    out[n] = v;
  }
  return out.slice(0, n);
}

export function encode(str: string, enc: Encoding): Uint8Array {
  switch (enc) {
    case "utf8":
      return utf8Encode(str);
    case "hex":
      return hexDecode(str);
    case "base64":
    case "base64url":
      return base64Decode(str);
    case "utf16le": {
      const out = new Uint8Array(str.length * 2);
      for (let i = 0; i < str.length; i++) {
        const c = str.charCodeAt(i);
        out[i * 2] = c & 0xff;
        out[i * 2 + 1] = c >> 8;
      }
      return out;
    }
    default: {
      const out = new Uint8Array(str.length);
      for (let i = 0; i < str.length; i++) out[i] = str.charCodeAt(i) & 0xff;
      return out;
    }
  }
}

export function decode(bytes: Uint8Array, enc: Encoding, start = 0, end = bytes.length): string {
  const view = start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end);
  switch (enc) {
    case "utf8":
      return utf8Decode(view);
    case "hex":
      return hexEncode(view);
    case "base64":
      return base64Encode(view);
    case "base64url":
      return base64Encode(view, true);
    case "utf16le": {
      let out = "";
      for (let i = 0; i + 1 < view.length; i += 2) out += String.fromCharCode(view[i]! | (view[i + 1]! << 8));
      return out;
    }
    case "ascii": {
      let out = "";
      for (let i = 0; i < view.length; i++) out += String.fromCharCode(view[i]! & 0x7f);
      return out;
    }
    default: {
      let out = "";
      for (let i = 0; i < view.length; i++) out += String.fromCharCode(view[i]!);
      return out;
    }
  }
}

export class TextEncoder {
  readonly encoding = "utf-8";
  encode(input = ""): Uint8Array {
    return utf8Encode(String(input));
  }
  encodeInto(input: string, dest: Uint8Array): { read: number; written: number } {
    const bytes = utf8Encode(String(input));
    const n = Math.min(bytes.length, dest.length);
    dest.set(bytes.subarray(0, n));
    return { read: input.length, written: n };
  }
}

/** UTF-8 (and latin1/utf-16le) decoding with streaming support for split sequences. */
export class TextDecoder {
  readonly encoding: string;
  readonly fatal: boolean;
  readonly ignoreBOM: boolean;
  private pending: Uint8Array = new Uint8Array(0);
  private readonly enc: Encoding;

  constructor(label = "utf-8", options: { fatal?: boolean; ignoreBOM?: boolean } = {}) {
    const l = String(label).toLowerCase();
    this.enc = l === "utf-16le" || l === "utf16le" ? "utf16le" : l === "latin1" || l === "iso-8859-1" || l === "ascii" ? "latin1" : normalizeEncoding(l === "unicode-1-1-utf-8" ? "utf8" : l);
    this.encoding = this.enc === "utf8" ? "utf-8" : this.enc === "utf16le" ? "utf-16le" : "windows-1252";
    this.fatal = !!options.fatal;
    this.ignoreBOM = !!options.ignoreBOM;
  }

  decode(input?: ArrayBufferView | ArrayBuffer, options: { stream?: boolean } = {}): string {
    let bytes =
      input === undefined
        ? new Uint8Array(0)
        : input instanceof ArrayBuffer
          ? new Uint8Array(input)
          : new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
    if (this.pending.length > 0) {
      const joined = new Uint8Array(this.pending.length + bytes.length);
      joined.set(this.pending);
      joined.set(bytes, this.pending.length);
      bytes = joined;
      this.pending = new Uint8Array(0);
    }
    let end = bytes.length;
    if (options.stream && this.enc === "utf8") end = completeUtf8Length(bytes);
    if (end < bytes.length) this.pending = bytes.slice(end);
    let text = decode(bytes, this.enc, 0, end);
    if (!this.ignoreBOM && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    if (this.fatal && text.includes("\ufffd")) {
      const err = new TypeError("The encoded data was not valid for encoding utf-8") as TypeError & { code: string };
      err.code = "ERR_ENCODING_INVALID_ENCODED_DATA";
      throw err;
    }
    return text;
  }
}

/** Length of the prefix that holds only whole UTF-8 sequences. */
export function completeUtf8Length(bytes: Uint8Array): number {
  for (let back = 1; back <= Math.min(3, bytes.length); back++) {
    const b = bytes[bytes.length - back]!;
    if ((b & 0xc0) === 0x80) continue;
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > back ? bytes.length - back : bytes.length;
  }
  return bytes.length;
}

export function btoa(data: unknown): string {
  const s = String(data);
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 255) throw new Error("Invalid character");
    bytes[i] = c;
  }
  return base64Encode(bytes);
}

export function atob(data: unknown): string {
  return decode(base64Decode(String(data).replace(/[\t\n\f\r ]/g, "")), "latin1");
}
