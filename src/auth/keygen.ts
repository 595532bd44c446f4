// `kiln keygen`: a new keypair shaped like Backend.AI's (manager's
// generate_keypair: AKIA + 16 upper-case alphanumerics, a 40-character
// url-safe secret) plus a bearer token, appended to the keys file (mode 0600),
// printed once.

import { chmodSync, existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { parseArgs } from "node:util";
import type { Keypair } from "./keys.ts";
import { defaultKeysFile, readKeysFile } from "./keys-file.ts";

const ALNUM_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/** `count` characters drawn uniformly from `alphabet`: bytes past the last whole multiple are redrawn. */
function randomChars(alphabet: string, count: number): string {
  const limit = 256 - (256 % alphabet.length);
  let out = "";
  while (out.length < count) {
    for (const byte of crypto.getRandomValues(new Uint8Array(count * 2))) {
      if (byte < limit && out.length < count) out += alphabet[byte % alphabet.length];
    }
  }
  return out;
}

/** base64url without padding, as Python's secrets.token_urlsafe. */
function tokenUrlsafe(bytes: number): string {
  const raw = String.fromCharCode(...crypto.getRandomValues(new Uint8Array(bytes)));
  return btoa(raw).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

export function generateKeypair(): Required<Omit<Keypair, "rateLimit">> {
  return { accessKey: "AKIA" + randomChars(ALNUM_UPPER, 16), secretKey: tokenUrlsafe(30), token: tokenUrlsafe(32) };
}

/**
 * Appends a new keypair to `file` (created with its directory if missing) and returns it.
 * The file is rewritten through a 0600 temporary file and a rename, so it is never
 * readable by others nor half-written.
 */
export function appendKeypair(file: string): Keypair {
  const keys = readKeysFile(file, true);
  let key = generateKeypair();
  while (keys.some((k) => k.accessKey === key.accessKey)) key = generateKeypair();
  if (!existsSync(dirname(file))) mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${crypto.randomUUID()}.tmp`;
  writeFileSync(temporary, JSON.stringify([...keys, key], null, 2) + "\n", { mode: 0o600, flag: "wx" });
  chmodSync(temporary, 0o600); // the umask may have taken bits off, never added: this only makes sure
  renameSync(temporary, file);
  return key;
}

/** `kiln keygen [--keys-file PATH]` (KILN_KEYS_FILE also names the file). */
export function keygenCommand(argv: string[], env: Record<string, string | undefined>, print: (text: string) => void = console.log): Keypair {
  const { values } = parseArgs({ args: argv, options: { "keys-file": { type: "string" } }, strict: true });
  const file = values["keys-file"] ?? (env.KILN_KEYS_FILE || defaultKeysFile(env));
  const key = appendKeypair(file);
  print(
    [
      `access key: ${key.accessKey}`,
      `secret key: ${key.secretKey}`,
      `token:      ${key.token}`,
      ``,
      `Appended to ${file} (mode 0600). Backend.AI SDKs take the access and secret key`,
      `(BACKEND_ACCESS_KEY, BACKEND_SECRET_KEY); curl sends -H 'Authorization: Bearer <token>'.`,
    ].join("\n"),
  );
  return key;
}
