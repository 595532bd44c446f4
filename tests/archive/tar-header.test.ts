// tar-header.ts against tar-stream, the project's tar package: the same headers, byte for
// byte, for every shape of name; and what tar-stream writes differently on purpose.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { extract, pack, type Header } from "tar-stream";
import { encodeHeader, padding, type TarHeader } from "../../src/archive/tar-header.ts";

/** The header block(s) tar-stream's pack writes for an entry with no content. */
async function tarStreamHeader(header: TarHeader): Promise<Uint8Array> {
  const packer = pack();
  const entry: Partial<Header> & { name: string } = { name: header.name, type: header.type, mode: header.mode, mtime: new Date(header.mtimeMs), size: header.size };
  if (header.linkname !== undefined) entry.linkname = header.linkname;
  packer.entry(entry).end(null);
  packer.finalize();
  const chunks: Uint8Array[] = [];
  for await (const chunk of packer) chunks.push(chunk as Uint8Array);
  const all = Buffer.concat(chunks);
  return all.subarray(0, all.byteLength - 1024); // without the end-of-archive blocks
}

/** Reads the headers back with tar-stream's extract. */
async function decoded(bytes: Uint8Array): Promise<{ name: string; type: string; linkname: string | null | undefined; size: number }[]> {
  const ex = extract();
  const out: { name: string; type: string; linkname: string | null | undefined; size: number }[] = [];
  const reading = (async () => {
    for await (const entry of ex) {
      out.push({ name: entry.header.name, type: entry.header.type ?? "", linkname: entry.header.linkname, size: entry.header.size ?? 0 });
      entry.resume();
    }
  })();
  ex.end(Buffer.concat([bytes, new Uint8Array(1024)]));
  await reading;
  return out;
}

const base = { mode: 0o644, mtimeMs: 1_700_000_000_123, size: 0 };

describe("encodeHeader", () => {
  const cases: [string, TarHeader][] = [
    ["a short file name", { ...base, name: "a/b.txt", type: "file" }],
    ["a directory", { ...base, name: "a/b/", type: "directory", mode: 0o755 }],
    ["a symlink", { ...base, name: "a/link", type: "symlink", linkname: "../target" }],
    ["a name split into prefix and name", { ...base, name: `${"d".repeat(60)}/${"f".repeat(80)}.txt`, type: "file" }],
    ["a name too long for ustar", { ...base, name: `${"e".repeat(200)}/${"g".repeat(150)}`, type: "file" }],
    ["a component over 100 bytes", { ...base, name: `p/${"x".repeat(120)}`, type: "file" }],
    ["a non-ASCII name", { ...base, name: "héllo/wörld.txt", type: "file" }],
    ["a link target over 100 bytes", { ...base, name: "l", type: "symlink", linkname: "/" + "t".repeat(150) }],
    ["a long name and a long target", { ...base, name: "n".repeat(300), type: "symlink", linkname: "t".repeat(300) }],
    ["setuid and sticky bits", { ...base, name: "m", type: "file", mode: 0o7755 }],
  ];
  for (const [what, header] of cases) {
    it(`writes what tar-stream writes for ${what}`, async () => {
      assert.deepEqual(Buffer.from(encodeHeader(header)), Buffer.from(await tarStreamHeader(header)));
    });
  }

  it("puts a non-ASCII link target in a pax header, where tar-stream writes raw UTF-8 into ustar", async () => {
    const bytes = encodeHeader({ ...base, name: "link", type: "symlink", linkname: "ünï" });
    assert.equal(bytes.byteLength, 512 * 3);
    assert.deepEqual(await decoded(bytes), [{ name: "link", type: "symlink", linkname: "ünï", size: 0 }]);
  });

  it("writes sizes of 8 GiB and more base-256", () => {
    const size = 2 ** 33 + 5;
    const bytes = encodeHeader({ ...base, name: "huge", type: "file", size });
    assert.equal(bytes[124], 0x80);
    let read = 0;
    for (let i = 125; i < 136; i++) read = read * 256 + bytes[i]!;
    assert.equal(read, size);
  });

  it("pads content to whole blocks", () => {
    assert.deepEqual([0, 1, 511, 512, 513].map(padding), [0, 511, 1, 0, 511]);
  });
});
