// Node's Buffer as a Uint8Array subclass: the parts programs commonly use
// (from/alloc/concat/byteLength, toString/write in Node's encodings, slicing
// that shares memory, comparisons, and the fixed-width read/write methods).

import { decode, encode, isEncoding, normalizeEncoding } from "./encoding.ts";

type Source = string | ArrayLike<number> | ArrayBuffer | SharedArrayBuffer | ArrayBufferView | { type: "Buffer"; data: number[] };

// Typed through a constructor without statics: Buffer.from/of differ from Uint8Array's.
const Bytes = Uint8Array as unknown as { new (...args: any[]): Uint8Array<ArrayBuffer>; prototype: Uint8Array<ArrayBuffer> };

export class Buffer extends Bytes {
  static poolSize = 8192;

  static from(value: Source, encOrOffset?: unknown, length?: number): Buffer {
    if (typeof value === "string") return toBuffer(encode(value, normalizeEncoding(encOrOffset)));
    if (value instanceof ArrayBuffer || value instanceof SharedArrayBuffer) {
      const offset = typeof encOrOffset === "number" ? encOrOffset : 0;
      return new Buffer(value, offset, length ?? value.byteLength - offset);
    }
    if (ArrayBuffer.isView(value)) {
      const bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
      return toBuffer(value instanceof Uint8Array ? bytes.slice() : Uint8Array.from(value as unknown as ArrayLike<number>));
    }
    if (value && typeof value === "object" && (value as { type?: unknown }).type === "Buffer" && Array.isArray((value as { data?: unknown }).data)) {
      return toBuffer(Uint8Array.from((value as { data: number[] }).data));
    }
    if (value && typeof value === "object" && typeof (value as ArrayLike<number>).length === "number") {
      return toBuffer(Uint8Array.from(value as ArrayLike<number>));
    }
    const err = new TypeError(
      "The first argument must be of type string or an instance of Buffer, ArrayBuffer, or Array or an Array-like Object.",
    ) as TypeError & { code: string };
    err.code = "ERR_INVALID_ARG_TYPE";
    throw err;
  }

  static alloc(size: number, fill?: string | number | Uint8Array, enc?: string): Buffer {
    const buf = new Buffer(checkSize(size));
    if (fill !== undefined && fill !== 0) buf.fill(fill, 0, buf.length, enc);
    return buf;
  }

  static allocUnsafe(size: number): Buffer {
    return new Buffer(checkSize(size));
  }

  static allocUnsafeSlow(size: number): Buffer {
    return new Buffer(checkSize(size));
  }

  static byteLength(value: string | ArrayBufferView | ArrayBuffer, enc?: string): number {
    if (typeof value !== "string") return value.byteLength;
    return encode(value, normalizeEncoding(enc)).length;
  }

  static concat(list: readonly Uint8Array[], total?: number): Buffer {
    const length = total ?? list.reduce((n, b) => n + b.length, 0);
    const out = Buffer.alloc(length);
    let at = 0;
    for (const b of list) {
      if (at >= length) break;
      out.set(b.subarray(0, length - at), at);
      at += b.length;
    }
    return out;
  }

  static isBuffer(value: unknown): value is Buffer {
    return value instanceof Buffer;
  }

  static isEncoding(enc: unknown): boolean {
    return isEncoding(enc);
  }

  static compare(a: Uint8Array, b: Uint8Array): number {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
    return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
  }

  override toString(enc?: string, start = 0, end = this.length): string {
    return decode(this, normalizeEncoding(enc), Math.max(0, start), Math.min(this.length, end));
  }

  toJSON(): { type: "Buffer"; data: number[] } {
    return { type: "Buffer", data: Array.from(this) };
  }

  equals(other: Uint8Array): boolean {
    return Buffer.compare(this, other) === 0;
  }

  compare(other: Uint8Array): number {
    return Buffer.compare(this, other);
  }

  write(str: string, offset?: number | string, length?: number | string, enc?: string): number {
    if (typeof offset === "string") [enc, offset] = [offset, 0];
    if (typeof length === "string") [enc, length] = [length, undefined];
    const at = offset ?? 0;
    const bytes = encode(str, normalizeEncoding(enc));
    const n = Math.min(bytes.length, this.length - at, length ?? Infinity);
    this.set(bytes.subarray(0, n), at);
    return n;
  }

  copy(target: Uint8Array, targetStart = 0, sourceStart = 0, sourceEnd = this.length): number {
    const chunk = this.subarray(sourceStart, Math.min(sourceEnd, sourceStart + target.length - targetStart));
    target.set(chunk, targetStart);
    return chunk.length;
  }

  /** Node's slice shares memory, unlike Uint8Array's. */
  override slice(start?: number, end?: number): Buffer {
    return this.subarray(start, end) as Buffer;
  }

  override fill(value: string | number | Uint8Array, start = 0, end = this.length, enc?: string): this {
    if (typeof start === "string") [enc, start] = [start, 0];
    if (typeof value === "number") return super.fill(value, start, end);
    const bytes = typeof value === "string" ? encode(value, normalizeEncoding(enc)) : value;
    if (bytes.length === 0) return super.fill(0, start, end);
    for (let i = start, j = 0; i < end; i++, j = (j + 1) % bytes.length) this[i] = bytes[j]!;
    return this;
  }

  override indexOf(value: string | number | Uint8Array, from = 0, enc?: string): number {
    if (typeof value === "number") return super.indexOf(value & 0xff, from);
    const needle = typeof value === "string" ? encode(value, normalizeEncoding(enc)) : value;
    const start = from < 0 ? Math.max(0, this.length + from) : from;
    outer: for (let i = start; i <= this.length - needle.length; i++) {
      for (let j = 0; j < needle.length; j++) if (this[i + j] !== needle[j]) continue outer;
      return i;
    }
    return -1;
  }

  override includes(value: string | number | Uint8Array, from = 0, enc?: string): boolean {
    return this.indexOf(value, from, enc) !== -1;
  }

  private view(): DataView {
    return new DataView(this.buffer, this.byteOffset, this.byteLength);
  }

  readUInt8(o = 0) { return this.view().getUint8(o); }
  readInt8(o = 0) { return this.view().getInt8(o); }
  readUInt16LE(o = 0) { return this.view().getUint16(o, true); }
  readUInt16BE(o = 0) { return this.view().getUint16(o, false); }
  readInt16LE(o = 0) { return this.view().getInt16(o, true); }
  readInt16BE(o = 0) { return this.view().getInt16(o, false); }
  readUInt32LE(o = 0) { return this.view().getUint32(o, true); }
  readUInt32BE(o = 0) { return this.view().getUint32(o, false); }
  readInt32LE(o = 0) { return this.view().getInt32(o, true); }
  readInt32BE(o = 0) { return this.view().getInt32(o, false); }
  readFloatLE(o = 0) { return this.view().getFloat32(o, true); }
  readFloatBE(o = 0) { return this.view().getFloat32(o, false); }
  readDoubleLE(o = 0) { return this.view().getFloat64(o, true); }
  readDoubleBE(o = 0) { return this.view().getFloat64(o, false); }
  readBigInt64LE(o = 0) { return this.view().getBigInt64(o, true); }
  readBigInt64BE(o = 0) { return this.view().getBigInt64(o, false); }
  readBigUInt64LE(o = 0) { return this.view().getBigUint64(o, true); }
  readBigUInt64BE(o = 0) { return this.view().getBigUint64(o, false); }
  writeUInt8(v: number, o = 0) { this.view().setUint8(o, v); return o + 1; }
  writeInt8(v: number, o = 0) { this.view().setInt8(o, v); return o + 1; }
  writeUInt16LE(v: number, o = 0) { this.view().setUint16(o, v, true); return o + 2; }
  writeUInt16BE(v: number, o = 0) { this.view().setUint16(o, v, false); return o + 2; }
  writeInt16LE(v: number, o = 0) { this.view().setInt16(o, v, true); return o + 2; }
  writeInt16BE(v: number, o = 0) { this.view().setInt16(o, v, false); return o + 2; }
  writeUInt32LE(v: number, o = 0) { this.view().setUint32(o, v, true); return o + 4; }
  writeUInt32BE(v: number, o = 0) { this.view().setUint32(o, v, false); return o + 4; }
  writeInt32LE(v: number, o = 0) { this.view().setInt32(o, v, true); return o + 4; }
  writeInt32BE(v: number, o = 0) { this.view().setInt32(o, v, false); return o + 4; }
  writeFloatLE(v: number, o = 0) { this.view().setFloat32(o, v, true); return o + 4; }
  writeFloatBE(v: number, o = 0) { this.view().setFloat32(o, v, false); return o + 4; }
  writeDoubleLE(v: number, o = 0) { this.view().setFloat64(o, v, true); return o + 8; }
  writeDoubleBE(v: number, o = 0) { this.view().setFloat64(o, v, false); return o + 8; }
}

function toBuffer(bytes: Uint8Array): Buffer {
  return new Buffer(bytes.buffer, bytes.byteOffset, bytes.length);
}

function checkSize(size: number): number {
  if (typeof size !== "number" || size < 0 || !Number.isInteger(size)) {
    const err = new RangeError(`The argument 'size' is invalid. Received ${String(size)}`) as RangeError & { code: string };
    err.code = "ERR_INVALID_ARG_VALUE";
    throw err;
  }
  return size;
}

export const constants = { MAX_LENGTH: 2 ** 32, MAX_STRING_LENGTH: 2 ** 29 - 24 };
export const kMaxLength = constants.MAX_LENGTH;
