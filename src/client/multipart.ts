// Reads a multipart/mixed answer (Kiln's and Backend.AI's download: one tar per part)
// part by part as it streams in, after RFC 2046. Each part's body is a stream of its
// own that must be read (or left) before the next part is asked for; nothing larger
// than a chunk is held, so several large archives never sit in memory.

import { KilnError } from "./errors.ts";

export interface StreamedPart {
  headers: Headers;
  body: ReadableStream<Uint8Array>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const CRLF = encoder.encode("\r\n");
const HEADERS_END = encoder.encode("\r\n\r\n");
const MAX_HEADER_BYTES = 16 * 1024;
const MAX_PREAMBLE_BYTES = 64 * 1024;

/** The boundary parameter of a multipart Content-Type, or null. */
export function boundaryOf(contentType: string): string | null {
  const match = /;\s*boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return match ? (match[1] ?? match[2] ?? null) : null;
}

export async function* readMultipart(stream: ReadableStream<Uint8Array>, boundary: string): AsyncGenerator<StreamedPart> {
  const input = new Input(stream.getReader());
  const delimiter = encoder.encode(`\r\n--${boundary}`);
  try {
    const first = await input.find(delimiter, 0, MAX_PREAMBLE_BYTES);
    if (first < 0) throw malformed("no opening boundary");
    input.drop(first + delimiter.length);
    for (;;) {
      if (!(await input.atLeast(2))) throw malformed("it ends right after a boundary");
      if (input.bytes[0] === 0x2d && input.bytes[1] === 0x2d) return; // "--": the closing delimiter
      // Transport padding may follow the boundary; the header block starts with the line's CRLF.
      const lineEnd = await input.find(CRLF, 0, 1024);
      if (lineEnd < 0) throw malformed("a boundary line does not end");
      const headEnd = await input.find(HEADERS_END, lineEnd, MAX_HEADER_BYTES);
      if (headEnd < 0) throw malformed("a part's headers do not end");
      const headers = parseHeaders(decoder.decode(input.bytes.subarray(lineEnd + 2, headEnd)));
      input.drop(headEnd + HEADERS_END.length);

      const part = new PartBody(input, delimiter);
      yield { headers, body: part.stream };
      await part.skip();
    }
  } finally {
    await input.close();
  }
}

class PartBody {
  private ended = false;
  /** The read in flight: skip() must not race a pull the consumer started. */
  private reading: Promise<Uint8Array | null> = Promise.resolve(null);
  readonly stream: ReadableStream<Uint8Array>;

  constructor(
    private readonly input: Input,
    private readonly delimiter: Uint8Array,
  ) {
    this.stream = new ReadableStream<Uint8Array>(
      {
        pull: async (controller) => {
          const chunk = await this.next();
          if (chunk === null) controller.close();
          else controller.enqueue(chunk);
        },
      },
      { highWaterMark: 0 },
    );
  }

  /** Reads past whatever of the part the consumer left. */
  async skip(): Promise<void> {
    await this.reading.catch(() => null);
    while ((await this.next()) !== null);
  }

  private next(): Promise<Uint8Array | null> {
    this.reading = this.reading.catch(() => null).then(() => this.read());
    return this.reading;
  }

  /** The next piece of the body, or null once the delimiter after it has been consumed. */
  private async read(): Promise<Uint8Array | null> {
    if (this.ended) return null;
    const { input, delimiter } = this;
    for (;;) {
      const at = input.indexOf(delimiter, 0);
      if (at >= 0) {
        const last = input.bytes.subarray(0, at);
        input.drop(at + delimiter.length);
        this.ended = true;
        return last.length > 0 ? last : null;
      }
      // Everything but a tail that could be the start of the delimiter is body.
      const safe = input.bytes.length - (delimiter.length - 1);
      if (safe > 0) {
        const chunk = input.bytes.subarray(0, safe);
        input.drop(safe);
        return chunk;
      }
      if (!(await input.more())) throw malformed("it ends inside a part");
    }
  }
}

/** The unread bytes of a stream, refilled on demand. The first delimiter may come without its CRLF. */
class Input {
  bytes: Uint8Array = CRLF;
  private done = false;

  constructor(private readonly reader: ReadableStreamDefaultReader<Uint8Array>) {}

  async more(): Promise<boolean> {
    if (this.done) return false;
    const { done, value } = await this.reader.read();
    if (done) {
      this.done = true;
      return false;
    }
    const joined = new Uint8Array(this.bytes.length + value.length);
    joined.set(this.bytes);
    joined.set(value, this.bytes.length);
    this.bytes = joined;
    return true;
  }

  async atLeast(n: number): Promise<boolean> {
    while (this.bytes.length < n) if (!(await this.more())) return false;
    return true;
  }

  /** Index of `pattern` at or after `from`, reading more as needed; -1 past `limit` bytes or at the end. */
  async find(pattern: Uint8Array, from: number, limit: number): Promise<number> {
    for (;;) {
      const at = this.indexOf(pattern, from);
      if (at >= 0) return at;
      if (this.bytes.length > from + limit || !(await this.more())) return -1;
    }
  }

  indexOf(pattern: Uint8Array, from: number): number {
    const { bytes } = this;
    const first = pattern[0]!;
    for (let i = bytes.indexOf(first, from); i >= 0 && i + pattern.length <= bytes.length; i = bytes.indexOf(first, i + 1)) {
      let j = 1;
      while (j < pattern.length && bytes[i + j] === pattern[j]) j++;
      if (j === pattern.length) return i;
    }
    return -1;
  }

  drop(n: number): void {
    this.bytes = this.bytes.subarray(n);
  }

  async close(): Promise<void> {
    await this.reader.cancel().catch(() => undefined);
  }
}

function parseHeaders(block: string): Headers {
  const headers = new Headers();
  for (const line of block.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    try {
      headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    } catch {
      // A header name Headers refuses is not one this client reads.
    }
  }
  return headers;
}

function malformed(why: string): KilnError {
  return new KilnError({ status: 200, title: "Malformed multipart answer", msg: why, problem: "bad-response" });
}
