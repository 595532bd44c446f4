// Who sent a request: a Backend.AI HMAC signature checked as the manager's
// auth middleware checks it (api/auth.py: check_date, sign_request), or a
// bearer token. Web-standard Request in, a keypair or an AuthFailure out.

import type { Keypair, KeyStore } from "./keys.ts";
import { parseRequestDate } from "./request-date.ts";
import { EMPTY_BODY_SINCE, parseAuthorization, signature, signaturesEqual } from "./signature.ts";

/** How far a request's date may be from the server's clock, either way. */
export const DATE_WINDOW_MS = 15 * 60 * 1000;

/** Backend.AI's names: auth-failed for wrong credentials, invalid-auth-params for a request that cannot be checked. */
export type AuthFailureName = "auth-failed" | "invalid-auth-params";

export class AuthFailure extends Error {
  override name = "AuthFailure";
  constructor(
    readonly problem: AuthFailureName,
    message: string,
  ) {
    super(message);
  }
}

export async function authenticate(request: Request, keys: KeyStore, now: number): Promise<Keypair> {
  const header = request.headers.get("authorization");
  if (!header) {
    throw new AuthFailure("auth-failed", "This server requires authentication: sign requests with a Backend.AI keypair or send Authorization: Bearer <token>.");
  }
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (bearer) {
    const key = await keys.bearer(bearer[1]!);
    if (!key) throw new AuthFailure("auth-failed", "Unknown bearer token.");
    return key;
  }
  return verifySignature(request, header, keys, now);
}

async function verifySignature(request: Request, header: string, keys: KeyStore, now: number): Promise<Keypair> {
  const { headers } = request;
  const parsed = parseAuthorization(header);
  if (!parsed) {
    throw new AuthFailure("invalid-auth-params", "Malformed authorization header: expected BackendAI signMethod=HMAC-SHA256, credential=<access key>:<signature> or Bearer <token>.");
  }
  const rawDate = headers.get("date") || headers.get("x-backendai-date") || headers.get("x-sorna-date");
  if (!rawDate) throw new AuthFailure("invalid-auth-params", "Date/time sync error: the request has no Date or X-BackendAI-Date header.");
  const date = parseRequestDate(rawDate);
  if (date === null) throw new AuthFailure("invalid-auth-params", "Date/time sync error: the Date header is not an ISO 8601 or RFC 1123 date.");
  if (Math.abs(date - now) >= DATE_WINDOW_MS) {
    throw new AuthFailure("invalid-auth-params", "Date/time sync error: the request's date is 15 minutes or more away from the server's clock.");
  }

  const key = keys.signing(parsed.accessKey);
  if (!key) throw new AuthFailure("auth-failed", "Access key not found, or it has no secret key to sign with.");
  if (parsed.signMethod.toUpperCase() !== "HMAC-SHA256") {
    throw new AuthFailure("invalid-auth-params", `Unsupported request signing method ${parsed.signMethod}: Kiln verifies HMAC-SHA256.`);
  }
  const newVersion = headers.get("x-backendai-version");
  const version = newVersion ?? headers.get("x-sorna-version");
  if (version === null) throw new AuthFailure("invalid-auth-params", "API version missing in request headers (X-BackendAI-Version).");
  // Older versions sign a hash of the body: reading a body before authenticating it would let anyone make the server read.
  if (version < EMPTY_BODY_SINCE) throw new AuthFailure("invalid-auth-params", `API versions before ${EMPTY_BODY_SINCE} sign the body, which Kiln does not verify.`);

  const url = new URL(request.url);
  const expected = await signature(key.secretKey!, {
    method: request.method,
    pathWithQuery: url.pathname + url.search,
    date: rawDate,
    host: headers.get("host") ?? url.host,
    // aiohttp's request.content_type: the media type, application/octet-stream when there is none.
    contentType: (headers.get("content-type") ?? "").split(";")[0]!.trim() || "application/octet-stream",
    version,
    versionHeader: newVersion === null ? "sorna" : "backendai",
  });
  if (!signaturesEqual(expected, parsed.signature)) throw new AuthFailure("auth-failed", "Signature mismatch.");
  return key;
}
