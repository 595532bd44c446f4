// Request input → validated values. JSON bodies are read with a byte limit and a
// content-type check; every value then goes through a valibot schema whose
// issues become one invalid-api-params problem naming the field.

import * as v from "valibot";
import { invalidParams, Problem } from "./problem.ts";

/** Media types read as JSON. Backend.AI's Python client labels bodiless requests text/plain. */
const JSON_TYPES = /^(application\/json|application\/[\w.+-]+\+json|text\/plain)$/;

/**
 * The request's JSON body, or undefined when it has none. A body over `limit`
 * bytes is cut off as soon as the limit is passed (413), malformed JSON is 400,
 * a non-JSON content type 415.
 */
export async function readJson(request: Request, limit: number): Promise<unknown> {
  const type = request.headers.get("content-type");
  const mediaType = type?.split(";")[0]?.trim().toLowerCase();
  if (mediaType && !JSON_TYPES.test(mediaType)) {
    throw new Problem("unsupported-media-type", `Expected a JSON body (application/json), got ${mediaType}.`);
  }
  const bytes = await readBytes(request, limit);
  const text = decoder.decode(bytes).trim();
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw invalidParams(`Malformed JSON body: ${error instanceof SyntaxError ? error.message : "cannot parse"}`);
  }
}

const decoder = new TextDecoder();

async function readBytes(request: Request, limit: number): Promise<Uint8Array> {
  const length = request.headers.get("content-length");
  if (Number(length ?? "0") > limit) throw tooLarge(limit);
  // A declared length bounds the body (the HTTP parser stops there), so it is read whole:
  // on Node the adapter then reads the socket directly, where a web stream costs several
  // times more per request. The check after it holds for in-process callers too.
  if (length !== null) {
    const bytes = new Uint8Array(await request.arrayBuffer().catch(unreadable));
    if (bytes.byteLength > limit) throw tooLarge(limit);
    return bytes;
  }
  if (!request.body) return new Uint8Array();
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    let chunk: Awaited<ReturnType<typeof reader.read>>;
    try {
      chunk = await reader.read();
    } catch {
      return unreadable();
    }
    const { done, value } = chunk;
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/** The client went away or the connection broke: its fault, not the server's. */
function unreadable(): never {
  throw new Problem("generic-bad-request", "The request body could not be read.");
}

function tooLarge(limit: number): Problem {
  return new Problem("payload-too-large", `The request body is larger than ${limit} bytes.`);
}

/** Validates input against a schema; the problem's msg names the first bad field, data lists them all. */
export function parse<const S extends v.GenericSchema>(schema: S, input: unknown): v.InferOutput<S> {
  const result = v.safeParse(schema, input);
  if (result.success) return result.output;
  const issues = result.issues.map((issue) => ({ field: v.getDotPath(issue) ?? "body", message: issue.message }));
  const first = issues[0]!;
  throw invalidParams(`${first.field}: ${first.message}`, { issues });
}
