// The client's transport: builds each request against the base URL, signs it
// (Backend.AI HMAC keys) or attaches a bearer token, bounds the wait for an answer
// and turns every failure into a KilnError. Web-standard fetch only.

import { signedHeaders } from "../auth/signature.ts";
import { KilnError } from "./errors.ts";

/** The Backend.AI API version Kiln's GET / announces; signed requests name it. */
export const API_VERSION = "v8.20240915";

export const DEFAULT_URL = "http://127.0.0.1:8090";

/** Any fetch-like function: globalThis.fetch, a test double, or `(r) => app.fetch(r)` in-process. */
export type Fetch = (request: Request) => Promise<Response> | Response;

export interface KilnClientOptions {
  /** The server, with any path prefix; default http://127.0.0.1:8090. */
  url?: string;
  /** Backend.AI keypair: every request is HMAC-signed with it. */
  accessKey?: string;
  secretKey?: string;
  /** Sent as `Authorization: Bearer <token>` (instead of a keypair). */
  token?: string;
  fetch?: Fetch;
  /** How long to wait for an answer's headers, in ms (a body may stream for longer); 0 waits forever. Default 60000. */
  timeoutMs?: number;
}

export type Query = Record<string, string | readonly string[] | undefined>;

export interface CallOptions {
  query?: Query;
  json?: unknown;
  /** A body other than JSON, with the media type to sign (multipart/form-data). */
  body?: { data: BodyInit; mediaType: string; contentType?: string };
  /** Aborts the request while it waits for its answer. */
  signal?: AbortSignal | undefined;
}

export class Http {
  private readonly base: URL;
  private readonly fetch: Fetch;
  private readonly timeoutMs: number;

  constructor(private readonly options: KilnClientOptions) {
    this.base = new URL(options.url ?? DEFAULT_URL);
    if (this.base.protocol !== "http:" && this.base.protocol !== "https:") throw new TypeError(`Not an http(s) URL: ${options.url}`);
    if ((options.accessKey === undefined) !== (options.secretKey === undefined)) {
      throw new TypeError("accessKey and secretKey go together");
    }
    if (options.token !== undefined && options.accessKey !== undefined) throw new TypeError("Give a token or a keypair, not both");
    this.fetch = options.fetch ?? ((request) => globalThis.fetch(request));
    this.timeoutMs = options.timeoutMs ?? 60_000;
  }

  urlFor(path: string, query?: Query): URL {
    const url = new URL(this.base.pathname.replace(/\/+$/, "") + path, this.base);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value === undefined) continue;
      for (const item of typeof value === "string" ? [value] : value) url.searchParams.append(key, item);
    }
    return url;
  }

  /** Sends a request; resolves with a 2xx Response, or throws KilnError. */
  async request(method: string, path: string, options: CallOptions = {}): Promise<Response> {
    const url = this.urlFor(path, options.query);
    const headers = new Headers();
    let body: BodyInit | undefined;
    let mediaType = "application/json";
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers.set("content-type", mediaType);
    } else if (options.body) {
      body = options.body.data;
      mediaType = options.body.mediaType;
      // FormData sets its own header, boundary included.
      if (options.body.contentType) headers.set("content-type", options.body.contentType);
    }
    await this.authorize(headers, method, url, mediaType, body === undefined);

    const controller = new AbortController();
    const onAbort = () => controller.abort(options.signal?.reason);
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    let timedOut = false;
    const timer =
      this.timeoutMs > 0
        ? setTimeout(() => {
            timedOut = true;
            controller.abort();
          }, this.timeoutMs)
        : undefined;
    let response: Response;
    try {
      const init: RequestInit & { duplex?: "half" } = { method, headers, signal: controller.signal };
      if (body !== undefined) init.body = body;
      if (body instanceof ReadableStream) init.duplex = "half";
      response = await this.fetch(new Request(url, init));
    } catch (error) {
      if (timedOut) throw new KilnError({ status: 0, title: `No answer from ${url.origin} within ${this.timeoutMs} ms`, problem: "timeout", cause: error });
      if (options.signal?.aborted) throw new KilnError({ status: 0, title: "The request was aborted", problem: "aborted", cause: error });
      const reason = error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
      throw new KilnError({ status: 0, title: `Cannot reach ${url.origin}`, msg: reason, problem: "network-error", cause: error });
    } finally {
      // The signal bounds the wait for an answer; a body being read is its reader's to cancel.
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
    }
    if (!response.ok) throw await KilnError.fromResponse(response);
    return response;
  }

  /** A request whose 2xx answer is JSON. */
  async json<T>(method: string, path: string, options?: CallOptions): Promise<T> {
    const response = await this.request(method, path, options);
    const text = await response.text();
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      throw new KilnError({ status: response.status, title: "The answer is not JSON", msg: text.slice(0, 200), problem: "bad-response", cause: error });
    }
  }

  /** A request whose answer has no body (204). */
  async empty(method: string, path: string, options?: CallOptions): Promise<void> {
    const response = await this.request(method, path, options);
    await response.body?.cancel();
  }

  private async authorize(headers: Headers, method: string, url: URL, mediaType: string, bodiless: boolean): Promise<void> {
    const { accessKey, secretKey, token } = this.options;
    if (token !== undefined) headers.set("authorization", `Bearer ${token}`);
    if (accessKey === undefined || secretKey === undefined) return;
    // Backend.AI's SDKs label bodiless requests application/json and sign that.
    if (bodiless) headers.set("content-type", mediaType);
    const signed = await signedHeaders({ method, url, contentType: mediaType, accessKey, secretKey, version: API_VERSION });
    for (const [name, value] of Object.entries(signed)) headers.set(name, value);
  }
}
