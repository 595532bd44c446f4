// The client's streaming multipart/mixed reader: the server's own writer's output cut
// into chunks of every size, RFC 2046's optional pieces (preamble, padding, empty
// parts, epilogue), parts left unread, and bodies that end too soon.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { multipartMixed } from "../../src/archive/multipart.ts";
import { KilnError } from "../../src/client/index.ts";
import { boundaryOf, readMultipart } from "../../src/client/multipart.ts";

const encoder = new TextEncoder();

function streamOf(bytes: Uint8Array, chunk: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + chunk));
      at += chunk;
    },
  });
}

async function bytesOf(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function read(stream: ReadableStream<Uint8Array>, boundary: string, skip: number[] = []) {
  const parts: { type: string | null; body: string | null }[] = [];
  for await (const part of readMultipart(stream, boundary)) {
    const index = parts.length;
    parts.push({ type: part.headers.get("content-type"), body: skip.includes(index) ? null : new TextDecoder().decode(await bytesOf(part.body)) });
  }
  return parts;
}

const sources = [
  "first part, with a CRLF\r\nand a near-boundary --kiln-b and \r\n--kiln- inside",
  "",
  "x".repeat(70_000),
];

describe("readMultipart", () => {
  it("reads the server's multipart/mixed in chunks of any size", async () => {
    const { contentType, body } = multipartMixed(
      sources.map((text) => ({ headers: { "Content-Type": "application/x-tar" }, body: () => new Blob([text]).stream() })),
      "kiln-b",
    );
    assert.equal(boundaryOf(contentType), "kiln-b");
    const whole = await bytesOf(body);
    for (const chunk of [1, 2, 3, 7, 8, 9, 64, 1000, whole.length]) {
      const parts = await read(streamOf(whole, chunk), "kiln-b");
      assert.deepEqual(parts.map((p) => p.body), sources, `chunks of ${chunk}`);
      assert.ok(parts.every((p) => p.type === "application/x-tar"));
    }
  });

  it("skips what a consumer leaves unread", async () => {
    const { body } = multipartMixed(sources.map((text) => ({ headers: {}, body: () => new Blob([text]).stream() })), "kiln-b");
    const parts = await read(streamOf(await bytesOf(body), 5), "kiln-b", [0, 2]);
    assert.deepEqual(parts.map((p) => p.body), [null, "", null]);
  });

  it("takes a preamble, transport padding, a part without headers and an epilogue", async () => {
    const text = "preamble\r\n--b \t\r\nX-A: 1\r\n\r\none\r\n--b\r\n\r\ntwo\r\n--b--\r\nepilogue";
    const parts = [];
    for await (const part of readMultipart(streamOf(encoder.encode(text), 3), "b")) {
      parts.push([part.headers.get("x-a"), new TextDecoder().decode(await bytesOf(part.body))]);
    }
    assert.deepEqual(parts, [["1", "one"], [null, "two"]]);
    assert.equal(boundaryOf('multipart/mixed; boundary="quoted b"'), "quoted b");
    assert.equal(boundaryOf("multipart/mixed"), null);
  });

  it("throws bad-response for a body that ends too soon", async () => {
    for (const text of ["--b\r\nX: 1\r\n\r\npart without end", "no boundary at all", "--b\r\nX: 1\r\n\r\nbody\r\n--b"]) {
      await assert.rejects(read(streamOf(encoder.encode(text), 4), "b"), (e) => e instanceof KilnError && e.problem === "bad-response", text);
    }
  });
});
