// Whether this server requires authentication, and the start-up refusal of a
// server that would require it with no key to check against.

import { ConfigError, type KilnConfig } from "../config.ts";

/** 127.0.0.0/8, ::1 (also IPv4-mapped) and localhost: only this machine can connect. */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, "$1");
  if (h === "localhost" || h.endsWith(".localhost") || h === "::1" || h === "0:0:0:0:0:0:0:1") return true;
  return /^(?:::ffff:)?127(?:\.\d{1,3}){3}$/.test(h);
}

export function authRequired(config: Pick<KilnConfig, "auth" | "host">): boolean {
  return config.auth === "on" || (config.auth === "auto" && !isLoopbackHost(config.host));
}

/** Throws when authentication is required and no keypair is configured: such a server could serve no one. */
export function checkAuthConfig(config: Pick<KilnConfig, "auth" | "host" | "keysFile">, keyCount: number): void {
  if (!authRequired(config) || keyCount > 0) return;
  const why = config.auth === "on" ? "--auth is on" : `--host ${config.host} is not a loopback address, so authentication is required`;
  throw new ConfigError(
    `${why}, but no keypair is configured${config.keysFile ? ` (${config.keysFile} holds none)` : ""}.\n` +
      "  Make one with `kiln keygen` (it appends a keypair to the keys file and prints it once),\n" +
      "  or set KILN_ACCESS_KEY and KILN_SECRET_KEY (KILN_TOKEN for a bearer token).\n" +
      "  To serve without authentication anyway: --auth off (anyone who reaches the port runs code).",
  );
}
