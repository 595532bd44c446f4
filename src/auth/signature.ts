// Backend.AI's HMAC request signing (the manager's sign_request, the SDKs'
// generate_signature / newSignedRequest) as pure functions on Web Crypto, so the
// client signs and a server can verify with the same code on any runtime.
//
//   string to sign = METHOD \n path?query \n date \n host:HOST \n content-type:TYPE
//                    \n x-backendai-version:VERSION \n sha256hex(body)
//   signing key    = HMAC(HMAC(secretKey, YYYYMMDD of date), host)
//   signature      = hex HMAC(signing key, string to sign)
//   Authorization: BackendAI signMethod=HMAC-SHA256, credential=<accessKey>:<signature>

const encoder = new TextEncoder();

/** sha256 of no bytes: API versions ≥ v4.20181215 sign an empty body whatever the request carries. */
export const EMPTY_BODY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** The first API version whose signatures hash an empty body instead of the request's. */
export const EMPTY_BODY_SINCE = "v4.20181215";

export interface SignedParts {
  method: string;
  /** The raw request target: path and query exactly as sent. */
  pathWithQuery: string;
  /** The Date (or X-BackendAI-Date) header exactly as sent. */
  date: string;
  /** The Host header: host, and port unless it is the scheme's default. */
  host: string;
  /** The media type without parameters (multipart/form-data, not its boundary). */
  contentType: string;
  /** The X-BackendAI-Version (or legacy X-Sorna-Version) header. */
  version: string;
  /** Which header carried the version: Sorna-era clients sign "x-sorna-version". Default backendai. */
  versionHeader?: "backendai" | "sorna";
  /** Hex sha256 of the signed body; default the empty body's (see EMPTY_BODY_SINCE). */
  bodySha256?: string;
}

export function stringToSign(parts: SignedParts): string {
  return [
    parts.method.toUpperCase(),
    parts.pathWithQuery,
    parts.date,
    `host:${parts.host}`,
    `content-type:${parts.contentType.toLowerCase()}`,
    `x-${parts.versionHeader ?? "backendai"}-version:${parts.version}`,
    parts.bodySha256 ?? EMPTY_BODY_SHA256,
  ].join("\n");
}

/**
 * YYYYMMDD of a Date header as the manager derives it: the calendar date as written for
 * ISO 8601 (extended or basic, whatever its offset), the UTC date for an RFC 1123 date.
 * Null when the value is no date.
 */
export function dateStamp(date: string): string | null {
  const iso = /^(\d{4})-?(\d{2})-?(\d{2})(?:[T ]|$)/.exec(date.trim());
  if (iso) return `${iso[1]}${iso[2]}${iso[3]}`;
  const parsed = new Date(date);
  return Number.isNaN(parsed.getTime()) ? null : parsed.toISOString().slice(0, 10).replaceAll("-", "");
}

/** The signing key: HMAC(HMAC(secretKey, YYYYMMDD), host). */
export async function signingKey(secretKey: string, stamp: string, host: string): Promise<Uint8Array> {
  const dayKey = await hmac(encoder.encode(secretKey), stamp);
  return hmac(dayKey, host);
}

/** The hex signature of a request. */
export async function signature(secretKey: string, parts: SignedParts): Promise<string> {
  const stamp = dateStamp(parts.date);
  if (stamp === null) throw new TypeError(`Not a date: ${JSON.stringify(parts.date)}`);
  return hex(await hmac(await signingKey(secretKey, stamp, parts.host), stringToSign(parts)));
}

export function authorizationHeader(accessKey: string, signatureHex: string): string {
  return `BackendAI signMethod=HMAC-SHA256, credential=${accessKey}:${signatureHex}`;
}

export interface ParsedAuthorization {
  /** "HMAC-SHA256" as sent (Backend.AI accepts other hashes by name). */
  signMethod: string;
  accessKey: string;
  signature: string;
}

/** Reads `BackendAI signMethod=…, credential=<key>:<sig>` (or the legacy `Sorna` scheme); null otherwise. */
export function parseAuthorization(header: string): ParsedAuthorization | null {
  const match = /^(?:BackendAI|Sorna)\s+(?:signMethod|method)=([\w-]+)\s*,\s*credential=([^:\s]+):([0-9a-fA-F]+)\s*$/.exec(header.trim());
  if (!match) return null;
  return { signMethod: match[1]!, accessKey: match[2]!, signature: match[3]!.toLowerCase() };
}

/** Compares two hex signatures in time independent of where they differ. */
export function signaturesEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

export interface SignRequest {
  method: string;
  url: URL;
  /** Media type of the body; the SDKs send application/json on bodiless requests too. */
  contentType: string;
  accessKey: string;
  secretKey: string;
  version: string;
  /** When the request is made; default now. */
  now?: Date;
}

/** The headers of a signed request: Date, X-BackendAI-Date, X-BackendAI-Version, Authorization. */
export async function signedHeaders(request: SignRequest): Promise<Record<string, string>> {
  const date = (request.now ?? new Date()).toISOString();
  const sig = await signature(request.secretKey, {
    method: request.method,
    pathWithQuery: request.url.pathname + request.url.search,
    date,
    host: request.url.host,
    contentType: request.contentType,
    version: request.version,
  });
  return {
    Date: date,
    "X-BackendAI-Date": date,
    "X-BackendAI-Version": request.version,
    Authorization: authorizationHeader(request.accessKey, sig),
  };
}

/** Hex sha256 of a body, for API versions older than EMPTY_BODY_SINCE. */
export async function sha256Hex(body: Uint8Array): Promise<string> {
  return hex(new Uint8Array(await crypto.subtle.digest("SHA-256", body as Uint8Array<ArrayBuffer>)));
}

async function hmac(key: Uint8Array, message: string): Promise<Uint8Array> {
  const cryptoKey = await crypto.subtle.importKey("raw", key as Uint8Array<ArrayBuffer>, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", cryptoKey, encoder.encode(message)));
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
