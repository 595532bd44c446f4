// The `kiln` command. `kiln serve` (what `npm start` runs) reads options from
// flags and environment variables, validates them with the config schema and
// serves the API on Node until SIGTERM or SIGINT.

import { homedir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createApp } from "./app.ts";
import { ConfigError, OPTIONS, parseConfig } from "./config.ts";
import { defaultKernels } from "./kernels/defaults.ts";
import { startNodeServer } from "./node.ts";
import { VERSION } from "./version.ts";

const USAGE = `kiln ${VERSION}: a code-execution server that speaks Backend.AI's REST API

Usage: kiln serve [options]

Options (each also read from the environment variable shown; flags win):
${OPTIONS.map((o) => `  ${`${o.flag} <value>`.padEnd(30)} ${o.env.padEnd(26)} ${o.help}`).join("\n")}
  ${"--help".padEnd(30)} ${"".padEnd(26)} this text`;

async function serve(argv: string[]): Promise<void> {
  const { values: parsed } = parseArgs({
    args: argv,
    options: Object.fromEntries([
      ...OPTIONS.map((o) => [o.flag.slice(2), { type: "string" as const }]),
      ["help", { type: "boolean" as const, short: "h" }],
    ]),
    strict: true,
  });
  const values = parsed as Record<string, string | boolean | undefined>;
  if (values.help) {
    console.log(USAGE);
    return;
  }
  // A private default: a predictable name in world-writable /tmp could be made first by another user.
  const dataHome = process.env.XDG_DATA_HOME || join(homedir(), ".local", "share");
  const raw: Record<string, unknown> = { dataDir: join(dataHome, "kiln", "sessions") };
  if (process.env.PORT) raw.port = process.env.PORT;
  for (const option of OPTIONS) {
    const value = values[option.flag.slice(2)] ?? process.env[option.env];
    if (value !== undefined) raw[option.key] = value;
  }
  const config = parseConfig(raw);
  const { kernels, missing } = await defaultKernels();
  const app = createApp({ config, kernels });
  const server = await startNodeServer(app, config);

  console.log(`kiln ${VERSION} listening on ${server.url}`);
  const served = Object.entries(app.catalog.available());
  console.log(`kernels: ${served.length ? served.map(([image, kernel]) => `${image} (${kernel})`).join(", ") : "none"}`);
  for (const [name, reason] of Object.entries(missing)) console.log(`kernel ${name} unavailable: ${reason}`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: destroying ${app.registry.size} session(s) and stopping`);
    try {
      await app.close();
      await server.close();
    } catch (error) {
      console.error("kiln: shutdown:", error);
    } finally {
      process.exit(0);
    }
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
  // Started by bin/kiln.js: when that process dies, even by SIGKILL, the server stops as on
  // SIGTERM rather than run on unseen with its port, sessions and containers.
  if (process.channel) {
    process.on("disconnect", () => {
      // Its stdout may have gone with it: a failed write must not cut the clean-up short.
      process.stdout.on("error", () => undefined);
      process.stderr.on("error", () => undefined);
      void stop("kiln wrapper gone");
    });
    process.channel.unref();
  }
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === "serve") return serve(rest);
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    console.log(USAGE);
    return;
  }
  if (command === "--version") {
    console.log(VERSION);
    return;
  }
  console.error(`kiln: unknown command "${command}"\n\n${USAGE}`);
  process.exit(2);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof ConfigError || (error instanceof TypeError && "code" in error && String(error.code).startsWith("ERR_PARSE_ARGS"))) {
    console.error(`kiln: ${error.message}`);
  } else {
    console.error("kiln:", error);
  }
  process.exit(2);
});
