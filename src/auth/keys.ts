// The keypairs a server accepts: their schema (one entry of the keys file or
// the environment) and the store the auth middleware looks them up in.

import * as v from "valibot";
import { ConfigError } from "../config.ts";
import { sha256Hex } from "./signature.ts";

/** Printable ASCII without spaces, ':' or ',': the Authorization header's credential splits on them. */
const CREDENTIAL = /^[\x21-\x2b\x2d-\x39\x3b-\x7e]+$/;

export const KeypairSchema = v.pipe(
  v.strictObject({
    /** Names the key in Authorization headers, and owns the sessions it creates. */
    accessKey: v.pipe(v.string(), v.regex(CREDENTIAL, "must be printable ASCII without spaces, ':' or ','"), v.maxLength(128)),
    secretKey: v.optional(v.pipe(v.string(), v.minLength(16, "must be at least 16 characters"), v.maxLength(1024))),
    /** For `Authorization: Bearer <token>`. */
    token: v.optional(v.pipe(v.string(), v.regex(CREDENTIAL, "must be printable ASCII without spaces, ':' or ','"), v.minLength(16, "must be at least 16 characters"))),
    /** Requests per window for this key, instead of --rate-limit; 0: no limit. */
    rateLimit: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
  }),
  v.check((k) => k.secretKey !== undefined || k.token !== undefined, "needs a secretKey, a token or both"),
);

export type Keypair = v.InferOutput<typeof KeypairSchema>;

export const KeypairListSchema = v.array(KeypairSchema);

export class KeyStore {
  private readonly byAccessKey = new Map<string, Keypair>();
  /** sha256 of each token: looking a token up by its hash leaks nothing about the token through timing. */
  private readonly byTokenHash: Promise<Map<string, Keypair>>;

  /** Throws a ConfigError naming a duplicate access key or token. */
  constructor(keys: readonly Keypair[]) {
    for (const key of keys) {
      if (this.byAccessKey.has(key.accessKey)) throw new ConfigError(`Access key ${key.accessKey} is configured twice.`);
      this.byAccessKey.set(key.accessKey, key);
    }
    const tokens = keys.filter((k) => k.token !== undefined);
    if (new Set(tokens.map((k) => k.token)).size !== tokens.length) throw new ConfigError("A bearer token is configured twice.");
    this.byTokenHash = Promise.all(tokens.map(async (k) => [await hashToken(k.token!), k] as const)).then((entries) => new Map(entries));
  }

  get size(): number {
    return this.byAccessKey.size;
  }

  /** The keypair of an access key, if it has a secret key to sign with. */
  signing(accessKey: string): Keypair | undefined {
    const key = this.byAccessKey.get(accessKey);
    return key?.secretKey === undefined ? undefined : key;
  }

  async bearer(token: string): Promise<Keypair | undefined> {
    return (await this.byTokenHash).get(await hashToken(token));
  }
}

function hashToken(token: string): Promise<string> {
  return sha256Hex(new TextEncoder().encode(token));
}
