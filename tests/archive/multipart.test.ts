import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseMultipart } from "@remix-run/multipart-parser";
import { contentDisposition, multipartMixed } from "../../src/archive/multipart.ts";

const encoder = new TextEncoder();

function streamOf(chunks: Uint8Array[], onCancel?: () => void): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        const chunk = chunks[i++];
        if (chunk) controller.enqueue(chunk);
        else controller.close();
      },
      cancel: () => onCancel?.(),
    },
    { highWaterMark: 0 },
  );
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
  }
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

function boundaryOf(contentType: string): string {
  const match = /^multipart\/mixed; boundary=(?:"([^"]+)"|(\S+))$/.exec(contentType);
  assert.ok(match, contentType);
  return (match[1] ?? match[2])!;
}

function tarHeaders(filename: string): Record<string, string> {
  return {
    "Content-Type": "application/x-tar",
    "Content-Disposition": contentDisposition(filename),
    "Content-Encoding": "identity",
    "Content-Transfer-Encoding": "binary",
  };
}

describe("multipartMixed", () => {
  it("round-trips parts, headers and bytes through a multipart parser", async () => {
    const binary = new Uint8Array(70_000).map((_, i) => (i * 7) & 0xff);
    // Bytes that look like a delimiter, minus the boundary itself, must pass through untouched.
    const tricky = encoder.encode("\r\n--not-the-boundary\r\n--\r\n");
    const { contentType, body } = multipartMixed([
      { headers: tarHeaders("lib.tar"), body: () => streamOf([binary.subarray(0, 1000), binary.subarray(1000)]) },
      { headers: tarHeaders("empty.tar"), body: () => streamOf([]) },
      { headers: { "Content-Type": "text/plain" }, body: () => streamOf([tricky]) },
    ]);
    const boundary = boundaryOf(contentType);
    const bytes = await readAll(body);
    const text = new TextDecoder("latin1").decode(bytes);
    assert.ok(text.startsWith(`--${boundary}\r\n`));
    assert.ok(text.endsWith(`\r\n--${boundary}--\r\n`));

    const parts = [...parseMultipart(bytes, { boundary, maxFileSize: 1 << 20 })];
    assert.equal(parts.length, 3);
    assert.deepEqual({ ...parts[0]!.headers }, {
      "content-type": "application/x-tar",
      "content-disposition": `attachment; filename="lib.tar"; filename*=UTF-8''lib.tar`,
      "content-encoding": "identity",
      "content-transfer-encoding": "binary",
    });
    assert.equal(parts[0]!.filename, "lib.tar");
    assert.deepEqual(parts[0]!.bytes, binary);
    assert.equal(parts[1]!.filename, "empty.tar");
    assert.equal(parts[1]!.size, 0);
    assert.deepEqual(parts[2]!.bytes, tricky);
  });

  it("opens part bodies lazily, one at a time", async () => {
    const opened: number[] = [];
    const part = (n: number) => ({
      headers: { "Content-Type": "application/octet-stream" },
      body: () => {
        opened.push(n);
        return streamOf([encoder.encode(`part ${n}`)]);
      },
    });
    const reader = multipartMixed([part(0), part(1), part(2)]).body.getReader();
    assert.deepEqual(opened, []);
    await reader.read(); // first part's head
    assert.deepEqual(opened, [0]);
    await reader.read(); // its body
    await reader.read(); // its CRLF
    assert.deepEqual(opened, [0]);
    await reader.read(); // second head
    assert.deepEqual(opened, [0, 1]);
    await reader.cancel();
  });

  it("cancels the current part body when cancelled", async () => {
    let cancelled = false;
    const { body } = multipartMixed([
      { headers: {}, body: () => streamOf([encoder.encode("a"), encoder.encode("b")], () => (cancelled = true)) },
    ]);
    const reader = body.getReader();
    await reader.read();
    await reader.read();
    await reader.cancel();
    assert.equal(cancelled, true);
  });

  it("uses a fresh random boundary by default and accepts a given one", () => {
    const a = boundaryOf(multipartMixed([]).contentType);
    const b = boundaryOf(multipartMixed([]).contentType);
    assert.notEqual(a, b);
    assert.ok(a.length >= 32 && a.length <= 70);
    assert.equal(multipartMixed([], "xyz").contentType, "multipart/mixed; boundary=xyz");
    assert.equal(multipartMixed([], "a b").contentType, `multipart/mixed; boundary="a b"`);
  });

  it("writes only the closing delimiter for no parts", async () => {
    const { body } = multipartMixed([], "xyz");
    assert.equal(new TextDecoder().decode(await readAll(body)), "--xyz--\r\n");
  });

  it("refuses headers or boundaries that could forge parts", () => {
    assert.throws(() => multipartMixed([{ headers: { "X-A": "1\r\nX-B: 2" }, body: () => streamOf([]) }]), TypeError);
    assert.throws(() => multipartMixed([{ headers: { "X A": "1" }, body: () => streamOf([]) }]), TypeError);
    assert.throws(() => multipartMixed([], ""), TypeError);
    assert.throws(() => multipartMixed([], "x".repeat(71)), TypeError);
    assert.throws(() => multipartMixed([], "bad\r\n"), TypeError);
  });
});

describe("contentDisposition", () => {
  /** What a multipart reader makes of the header (remix's parser, like aiohttp, prefers filename*). */
  function parsedFilename(name: string): string | undefined {
    const message = encoder.encode(`--b\r\nContent-Disposition: ${contentDisposition(name)}\r\n\r\n\r\n--b--\r\n`);
    return [...parseMultipart(message, { boundary: "b" })][0]!.filename;
  }

  it("writes a quoted ASCII filename and an RFC 8187 filename*", () => {
    assert.equal(contentDisposition("lib.tar"), `attachment; filename="lib.tar"; filename*=UTF-8''lib.tar`);
    assert.equal(
      contentDisposition(`a "q" \\b.tar`),
      `attachment; filename="a \\"q\\" \\\\b.tar"; filename*=UTF-8''a%20%22q%22%20%5Cb.tar`,
    );
    assert.equal(
      contentDisposition("résumé.tar"),
      `attachment; filename="r_sum_.tar"; filename*=UTF-8''r%C3%A9sum%C3%A9.tar`,
    );
  });

  it("never lets control characters into the header", () => {
    const value = contentDisposition("evil\r\nX-Injected: 1.tar");
    assert.doesNotMatch(value, /[\r\n]/);
  });

  it("round-trips any name through a parser", () => {
    for (const name of ["lib.tar", `it's (1).tar`, `quote"back\\slash.tar`, "résumé 📦.tar", "semi;colon=.tar", "100%.tar"]) {
      assert.equal(parsedFilename(name), name);
    }
  });
});
