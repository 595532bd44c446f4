// KilnError: everything the client throws. A server answer that is not 2xx keeps its
// status and its problem+json fields; a failure with no answer (network, timeout,
// abort) has status 0. `problem` is the short name to switch on either way.

const PROBLEM_BASE = "https://api.backend.ai/probs/";

/** Failures of the client itself, with no problem document from a server. */
export type ClientProblem =
  | "network-error"
  | "timeout"
  | "aborted"
  /** The server answered with something that is not what the endpoint promises. */
  | "bad-response"
  /** A non-2xx answer without a problem+json body (a proxy's HTML page, Node's plain 408). */
  | "http-error"
  /** The program waits for input and the run was given no `input` callback. */
  | "input-required";

export interface KilnErrorInit {
  status: number;
  /** The problem type URI; "about:blank" when there was no problem document. */
  type?: string;
  title: string;
  msg?: string;
  data?: unknown;
  problem?: ClientProblem;
  cause?: unknown;
}

export class KilnError extends Error {
  override name = "KilnError";
  /** The HTTP status, or 0 when no answer arrived. */
  readonly status: number;
  readonly type: string;
  readonly title: string;
  readonly msg: string | undefined;
  readonly data: unknown;
  /** Backend.AI's problem name ("object-not-found", "invalid-api-params", …) or a ClientProblem. */
  readonly problem: string;

  constructor(init: KilnErrorInit) {
    const detail = init.msg ? `${init.title}${/[.:!?]$/.test(init.title) ? " " : ": "}${init.msg}` : init.title;
    super(init.status ? `${init.status}: ${detail}` : detail, init.cause === undefined ? undefined : { cause: init.cause });
    this.status = init.status;
    this.type = init.type ?? "about:blank";
    this.title = init.title;
    this.msg = init.msg;
    this.data = init.data;
    this.problem = init.problem ?? (this.type.startsWith(PROBLEM_BASE) ? this.type.slice(PROBLEM_BASE.length) : this.type);
  }

  /** The error for a non-2xx answer; reads (a bounded part of) its body. */
  static async fromResponse(response: Response): Promise<KilnError> {
    const text = await boundedText(response, 64 * 1024);
    const contentType = response.headers.get("content-type") ?? "";
    if (/[/+]json\b/i.test(contentType)) {
      try {
        const body = JSON.parse(text) as Record<string, unknown>;
        if (body && typeof body === "object" && typeof body.type === "string") {
          return new KilnError({
            status: response.status,
            type: body.type,
            title: typeof body.title === "string" ? body.title : response.statusText,
            ...(typeof body.msg === "string" ? { msg: body.msg } : typeof body.detail === "string" ? { msg: body.detail } : {}),
            data: body.data,
          });
        }
      } catch {
        // Not JSON after all: reported as plain text below.
      }
    }
    return new KilnError({
      status: response.status,
      title: response.statusText || `HTTP ${response.status}`,
      ...(text.trim() ? { msg: text.trim().slice(0, 500) } : {}),
      problem: "http-error",
    });
  }
}

async function boundedText(response: Response, limit: number): Promise<string> {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    while (text.length < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } catch {
    // A body cut short still tells what it had.
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return text;
}
