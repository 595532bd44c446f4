// Where keypairs come from: the keys file (JSON, refused when group or others
// may read it, as ssh refuses a private key) and the environment.

import { readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import { ConfigError, type KilnConfig } from "../config.ts";
import { KeypairListSchema, KeypairSchema, type Keypair } from "./keys.ts";
import { authRequired, checkAuthConfig } from "./policy.ts";

type Env = Record<string, string | undefined>;

/** $XDG_CONFIG_HOME/kiln/keys.json, or ~/.config/kiln/keys.json: where `kiln keygen` writes. */
export function defaultKeysFile(env: Env): string {
  return join(env.XDG_CONFIG_HOME || join(homedir(), ".config"), "kiln", "keys.json");
}

/** Throws a ConfigError when the file holds secrets others may read. Windows has no such modes. */
export function checkKeysFileMode(path: string, mode: number): void {
  if (process.platform === "win32" || (mode & 0o077) === 0) return;
  const octal = (mode & 0o777).toString(8).padStart(4, "0");
  throw new ConfigError(
    `Permissions ${octal} for keys file ${path} are too open: it holds secret keys, so group and others must have no access.\n  Run: chmod 600 ${path}`,
  );
}

/** The keypairs of a keys file; a missing file is an error unless `optional` (then none). */
export function readKeysFile(path: string, optional = false): Keypair[] {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw new ConfigError(`Cannot read keys file ${path}: ${(error as Error).message}`);
    if (optional) return [];
    throw new ConfigError(`Keys file ${path} does not exist; \`kiln keygen --keys-file ${path}\` makes it.`);
  }
  checkKeysFileMode(path, mode);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new ConfigError(`Keys file ${path} is not JSON: ${(error as Error).message}`);
  }
  return valid(KeypairListSchema, json, `Keys file ${path}`, "a list of {accessKey, secretKey, token?, rateLimit?}");
}

/** KILN_ACCESS_KEY with KILN_SECRET_KEY and/or KILN_TOKEN; KILN_TOKEN alone is a key named KILN_TOKEN. */
export function keysFromEnv(env: Env): Keypair[] {
  const { KILN_ACCESS_KEY: accessKey, KILN_SECRET_KEY: secretKey, KILN_TOKEN: token } = env;
  if (!accessKey && !secretKey && !token) return [];
  if (secretKey && !accessKey) throw new ConfigError("KILN_SECRET_KEY is set without KILN_ACCESS_KEY: set both.");
  const entry = { accessKey: accessKey || "KILN_TOKEN", ...(secretKey ? { secretKey } : {}), ...(token ? { token } : {}) };
  return [valid(KeypairSchema, entry, "KILN_ACCESS_KEY / KILN_SECRET_KEY / KILN_TOKEN", "KILN_SECRET_KEY or KILN_TOKEN with KILN_ACCESS_KEY")];
}

/**
 * What `kiln serve` accepts: --keys-file (which must exist) or the default file (if it
 * exists), plus the environment's keypair. The default file is read only when
 * authentication is on. Throws a ConfigError when authentication is on with no keypair.
 */
export function loadKeys(config: Pick<KilnConfig, "auth" | "host" | "keysFile">, env: Env): Keypair[] {
  const fromFile =
    config.keysFile !== undefined ? readKeysFile(config.keysFile) : authRequired(config) ? readKeysFile(defaultKeysFile(env), true) : [];
  const keys = [...fromFile, ...keysFromEnv(env)];
  checkAuthConfig(config, keys.length);
  return keys;
}

function valid<S extends v.GenericSchema>(schema: S, input: unknown, where: string, expected: string): v.InferOutput<S> {
  const result = v.safeParse(schema, input);
  if (result.success) return result.output;
  const lines = result.issues.map((issue) => `${v.getDotPath(issue) ?? "(entry)"}: ${issue.message}`);
  throw new ConfigError(`${where} is not ${expected}:\n  ${lines.join("\n  ")}`);
}
