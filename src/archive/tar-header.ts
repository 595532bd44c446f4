// The 512-byte headers of a ustar archive, as tar-stream writes them: a name that is not
// ASCII or does not fit ustar's 100 + 155 bytes, or a link target over 100 bytes, goes in a
// pax extended header ("x") in front. Sizes of 8 GiB and more are written base-256 (GNU).

const BLOCK = 512;
const encoder = new TextEncoder();

export type EntryType = "file" | "directory" | "symlink";

export interface TarHeader {
  /** Directories end in "/". */
  name: string;
  type: EntryType;
  /** Permission bits. */
  mode: number;
  mtimeMs: number;
  /** Bytes of content that follow (0 for directories and symlinks). */
  size: number;
  linkname?: string;
}

const TYPEFLAG: Record<EntryType | "pax", number> = { file: 0x30, directory: 0x35, symlink: 0x32, pax: 0x78 };

/** Bytes of padding after `size` bytes of content, to the next block. */
export function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** The header block(s) of one entry: 512 bytes, or 1,024 and more with a pax header in front. */
export function encodeHeader(header: TarHeader): Uint8Array {
  const split = ustarName(header.name);
  const linkFits = header.linkname === undefined || (isAscii(header.linkname) && header.linkname.length <= 100);
  if (split && linkFits) return block(header, split.name, split.prefix, header.linkname);

  const records = paxRecord("path", header.name) + (header.linkname === undefined ? "" : paxRecord("linkpath", header.linkname));
  const pax = encoder.encode(records);
  const out = new Uint8Array(BLOCK + pax.byteLength + padding(pax.byteLength) + BLOCK);
  const paxHeader = { ...header, size: pax.byteLength };
  out.set(block(paxHeader, "PaxHeader", "", header.linkname === undefined ? undefined : "PaxHeader", "pax"), 0);
  out.set(pax, BLOCK);
  out.set(block(header, "PaxHeader", "", header.linkname === undefined ? undefined : "PaxHeader"), out.byteLength - BLOCK);
  return out;
}

/** The name as ustar's name and prefix fields, or null when it needs pax. */
function ustarName(full: string): { name: string; prefix: string } | null {
  if (!isAscii(full)) return null;
  let name = full;
  let prefix = "";
  while (name.length > 100) {
    const slash = name.indexOf("/");
    if (slash < 0) return null;
    prefix += (prefix ? "/" : "") + name.slice(0, slash);
    name = name.slice(slash + 1);
  }
  return prefix.length > 155 ? null : { name, prefix };
}

function block(header: TarHeader, name: string, prefix: string, linkname: string | undefined, type: EntryType | "pax" = header.type): Uint8Array {
  const buf = new Uint8Array(BLOCK);
  ascii(buf, 0, name);
  ascii(buf, 100, octal(header.mode & 0o7777, 6));
  ascii(buf, 108, octal(0, 6)); // uid
  ascii(buf, 116, octal(0, 6)); // gid
  writeSize(buf, 124, header.size);
  ascii(buf, 136, octal(Math.max(0, Math.floor(header.mtimeMs / 1000)), 11));
  buf[156] = TYPEFLAG[type];
  if (linkname !== undefined) ascii(buf, 157, linkname);
  ascii(buf, 257, "ustar\0" + "00");
  ascii(buf, 329, octal(0, 6)); // devmajor
  ascii(buf, 337, octal(0, 6)); // devminor
  ascii(buf, 345, prefix);
  ascii(buf, 148, octal(checksum(buf), 6));
  return buf;
}

/** `digits` octal digits and a space; all sevens when the value does not fit. */
function octal(value: number, digits: number): string {
  const text = value.toString(8);
  return (text.length > digits ? "7".repeat(digits) : text.padStart(digits, "0")) + " ";
}

function writeSize(buf: Uint8Array, at: number, size: number): void {
  if (size.toString(8).length <= 11) {
    ascii(buf, at, octal(size, 11));
    return;
  }
  // Base-256: a leading 0x80, then the size big-endian in the remaining 11 bytes.
  buf[at] = 0x80;
  for (let i = 11, rest = size; i > 0; i--, rest = Math.floor(rest / 256)) buf[at + i] = rest % 256;
}

/** The checksum field counts as eight spaces. */
function checksum(buf: Uint8Array): number {
  let sum = 8 * 0x20;
  for (let i = 0; i < 148; i++) sum += buf[i]!;
  for (let i = 156; i < BLOCK; i++) sum += buf[i]!;
  return sum;
}

/** "<length> <key>=<value>\n", the length counting itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bytes = encoder.encode(body).byteLength;
  let length = bytes + String(bytes).length;
  if (String(length).length > String(bytes).length) length++;
  return `${length}${body}`;
}

function ascii(buf: Uint8Array, at: number, text: string): void {
  for (let i = 0; i < text.length; i++) buf[at + i] = text.charCodeAt(i);
}

function isAscii(text: string): boolean {
  return /^[\x01-\x7f]*$/.test(text);
}
