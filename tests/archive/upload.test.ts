import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readUpload, UploadError, type UploadErrorReason } from "../../src/archive/multipart.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const LIMITS = { maxFiles: 20, maxFileBytes: MiB, maxHeaderBytes: 8 * KiB };
const BOUNDARY = "----kilnTestBoundary7MA4YWxkTrZu0gW";
const encoder = new TextEncoder();

interface RawPart {
  /** Default: `form-data; name="src"; filename="<filename>"`. */
  disposition?: string;
  filename?: string;
  extraHeaders?: string;
  data?: Uint8Array | string;
}

function partHead(part: RawPart): Uint8Array {
  const disposition = part.disposition ?? `form-data; name="src"; filename="${part.filename ?? "f.txt"}"`;
  return encoder.encode(
    `--${BOUNDARY}\r\nContent-Disposition: ${disposition}\r\n${part.extraHeaders ?? ""}Content-Type: application/octet-stream\r\n\r\n`,
  );
}

function bytesOf(data: Uint8Array | string | undefined): Uint8Array {
  return typeof data === "string" ? encoder.encode(data) : (data ?? new Uint8Array(0));
}

/** The chunks of a hand-written multipart/form-data body. */
function* rawBody(parts: Iterable<RawPart>, close = true): Generator<Uint8Array> {
  for (const part of parts) {
    yield partHead(part);
    yield bytesOf(part.data);
    yield encoder.encode("\r\n");
  }
  if (close) yield encoder.encode(`--${BOUNDARY}--\r\n`);
}

/** A body pulled chunk by chunk from a generator, recording how much was read and whether it was cancelled. */
function trackedBody(chunks: Iterator<Uint8Array>) {
  const state = { pulled: 0, cancelled: false, exhausted: false };
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        const next = chunks.next();
        if (next.done) {
          state.exhausted = true;
          controller.close();
        } else {
          state.pulled += next.value.byteLength;
          controller.enqueue(next.value);
        }
      },
      cancel() {
        state.cancelled = true;
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, state };
}

function request(body: BodyInit | ReadableStream<Uint8Array>, contentType = `multipart/form-data; boundary=${BOUNDARY}`): Request {
  return new Request("http://kiln.test/upload", {
    method: "POST",
    headers: { "content-type": contentType },
    body,
    duplex: "half",
  } as RequestInit);
}

function concat(chunks: Iterable<Uint8Array>): Uint8Array<ArrayBuffer> {
  const list = [...chunks];
  const out = new Uint8Array(list.reduce((n, c) => n + c.byteLength, 0));
  let offset = 0;
  for (const c of list) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

async function rejectsWith(promise: Promise<unknown>, reason: UploadErrorReason, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof UploadError, `expected an UploadError, got ${String(error)}`);
    assert.equal(error.reason, reason);
    if (message) assert.match(error.message, message);
    return true;
  });
}

describe("readUpload", () => {
  it("reads files from a FormData body, filenames verbatim", async () => {
    const form = new FormData();
    form.append("src", new File([encoder.encode("alpha")], "a.txt"));
    form.append("src", new File([new Uint8Array([0, 1, 2, 255])], "dir/sub/b.bin"));
    form.append("src", new File([], "empty.txt"));
    form.append("src", new File([encoder.encode("x")], "résumé 📦.txt"));
    const files = await readUpload(new Request("http://kiln.test/upload", { method: "POST", body: form }), LIMITS);
    assert.deepEqual(
      files.map((f) => [f.filename, [...f.data]]),
      [
        ["a.txt", [...encoder.encode("alpha")]],
        ["dir/sub/b.bin", [0, 1, 2, 255]],
        ["empty.txt", []],
        ["résumé 📦.txt", [120]],
      ],
    );
  });

  it("reads a hand-written body, whatever the field name, with filename* and odd names", async () => {
    const body = concat(
      rawBody([
        { disposition: `form-data; name="src"; filename="../../etc/passwd"`, data: "p" },
        { disposition: `form-data; name="other"; filename="a%2Fb.txt"`, data: "q" },
        { disposition: `form-data; name="src"; filename="fallback.txt"; filename*=UTF-8''%C3%A9t%C3%A9.txt`, data: "r" },
        { disposition: `form-data; name="src"; filename="has \\"quotes\\".txt"`, data: "s" },
      ]),
    );
    const files = await readUpload(request(body), LIMITS);
    assert.deepEqual(
      files.map((f) => f.filename),
      ["../../etc/passwd", "a%2Fb.txt", "été.txt", `has "quotes".txt`],
    );
  });

  it("accepts an empty upload, a quoted boundary and a case-insensitive media type", async () => {
    assert.deepEqual(await readUpload(request(`--${BOUNDARY}--\r\n`), LIMITS), []);
    const files = await readUpload(
      request(concat(rawBody([{ data: "x" }])), `Multipart/Form-Data; charset=utf-8; Boundary="${BOUNDARY}"`),
      LIMITS,
    );
    assert.equal(files.length, 1);
  });

  it("tolerates an epilogue, even in its own chunk", async () => {
    const { stream, state } = trackedBody([...rawBody([{ data: "x" }]), encoder.encode("\r\n"), encoder.encode("trailing words\r\n")].values());
    const files = await readUpload(request(stream), LIMITS);
    assert.equal(files.length, 1);
    assert.equal(state.exhausted, true);
  });

  it("accepts 20 files and refuses 21", async () => {
    const parts = (n: number) => Array.from({ length: n }, (_, i) => ({ filename: `f${i}.txt`, data: `file ${i}` }));
    assert.equal((await readUpload(request(concat(rawBody(parts(20)))), LIMITS)).length, 20);
    await rejectsWith(readUpload(request(concat(rawBody(parts(21)))), LIMITS), "too-many-files", /^Too many files$/);
  });

  it("stops at the 21st of 10,000 parts without reading the rest", async () => {
    function* parts() {
      for (let i = 0; i < 10_000; i++) yield { filename: `f${i}.txt`, data: `file ${i}` };
    }
    const { stream, state } = trackedBody(rawBody(parts()));
    await rejectsWith(readUpload(request(stream), LIMITS), "too-many-files");
    assert.equal(state.cancelled, true);
    assert.equal(state.exhausted, false);
    assert.ok(state.pulled < 64 * KiB, `read ${state.pulled} bytes`);
  });

  it("refuses more files than allowed early when they are large", async () => {
    function* parts() {
      for (let i = 0; i < 1000; i++) yield { filename: `f${i}.bin`, data: new Uint8Array(MiB) };
    }
    const { stream, state } = trackedBody(rawBody(parts()));
    await rejectsWith(readUpload(request(stream), LIMITS), "too-many-files", /^Too many files$/);
    assert.equal(state.cancelled, true);
    assert.ok(state.pulled < 22 * MiB, `read ${state.pulled} bytes`);
  });

  it("accepts a file of exactly maxFileBytes and refuses one byte more", async () => {
    const exact = await readUpload(request(concat(rawBody([{ data: new Uint8Array(1_048_576).fill(7) }]))), LIMITS);
    assert.equal(exact[0]!.data.byteLength, 1_048_576);
    assert.equal(exact[0]!.data[1_048_575], 7);
    await rejectsWith(
      readUpload(request(concat(rawBody([{ data: new Uint8Array(1_048_577) }]))), LIMITS),
      "too-large-file",
      /^Too large file$/,
    );
  });

  it("stops reading at an oversized file", async () => {
    function* body() {
      yield partHead({ filename: "big.bin" });
      for (let i = 0; i < 1000; i++) yield new Uint8Array(64 * KiB); // 64 MiB, never closed
    }
    const { stream, state } = trackedBody(body());
    await rejectsWith(readUpload(request(stream), LIMITS), "too-large-file");
    assert.equal(state.cancelled, true);
    assert.ok(state.pulled < MiB + 128 * KiB, `read ${state.pulled} bytes`);
  });

  it("refuses a 1 MB part header", async () => {
    const huge = `X-Padding: ${"a".repeat(1_000_000)}\r\n`;
    const { stream, state } = trackedBody(
      (function* () {
        yield encoder.encode(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="src"; filename="a"\r\n`);
        for (let i = 0; i < huge.length; i += 16 * KiB) yield encoder.encode(huge.slice(i, i + 16 * KiB));
        yield encoder.encode("\r\nbody\r\n");
        yield encoder.encode(`--${BOUNDARY}--\r\n`);
      })(),
    );
    await rejectsWith(readUpload(request(stream), LIMITS), "header-too-large");
    assert.equal(state.cancelled, true);
    assert.ok(state.pulled < 64 * KiB, `read ${state.pulled} bytes`);
    // The same from a single buffer.
    await rejectsWith(readUpload(request(concat(rawBody([{ extraHeaders: huge, data: "x" }]))), LIMITS), "header-too-large");
  });

  it("refuses a truncated body", async () => {
    const full = concat(rawBody([{ data: "hello" }, { data: "world" }]));
    for (const cut of [full.byteLength - 3, full.byteLength - 30, 20, 0]) {
      await rejectsWith(readUpload(request(full.slice(0, cut)), LIMITS), "malformed");
    }
    // No closing delimiter at all.
    await rejectsWith(readUpload(request(concat(rawBody([{ data: "x" }], false))), LIMITS), "malformed");
  });

  it("refuses a body that does not start with the boundary", async () => {
    await rejectsWith(readUpload(request("garbage before\r\n" + new TextDecoder().decode(concat(rawBody([{ data: "x" }])))), LIMITS), "malformed");
  });

  it("refuses a part without a filename, naming the field", async () => {
    const body = concat(rawBody([{ data: "ok" }, { disposition: `form-data; name="src"`, data: "field value" }]));
    await rejectsWith(readUpload(request(body), LIMITS), "missing-filename", /"src"/);
    const form = new FormData();
    form.append("comment", "just text");
    await rejectsWith(readUpload(new Request("http://kiln.test/", { method: "POST", body: form }), LIMITS), "missing-filename", /"comment"/);
  });

  it("refuses what is not multipart/form-data with a boundary", async () => {
    const body = concat(rawBody([{ data: "x" }]));
    await rejectsWith(readUpload(request(body, "application/json"), LIMITS), "not-multipart");
    await rejectsWith(readUpload(request(body, "multipart/form-data"), LIMITS), "not-multipart");
    await rejectsWith(readUpload(request(body, "multipart/form-data; boundary="), LIMITS), "not-multipart");
    await rejectsWith(readUpload(request(body, `multipart/mixed; boundary=${BOUNDARY}`), LIMITS), "not-multipart");
    await rejectsWith(readUpload(new Request("http://kiln.test/", { method: "POST" }), LIMITS), "not-multipart");
  });

  it("reports a failing body stream as malformed", async () => {
    let sent = false;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent) return controller.error(new Error("connection reset"));
        sent = true;
        controller.enqueue(partHead({ filename: "a" }));
      },
    });
    await rejectsWith(readUpload(request(stream), LIMITS), "malformed");
  });
});
