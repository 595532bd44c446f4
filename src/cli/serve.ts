// `kiln serve` (what `npm start` runs): options from flags and environment variables,
// validated with the config schema; serves the API on Node until SIGTERM or SIGINT
// (or the death of bin/kiln.js), then destroys every session.

import { homedir } from "node:os";
import { join } from "node:path";
import { OPTIONS, parseConfig } from "../config.ts";
import { VERSION } from "../version.ts";
import type { Args, Command } from "./command.ts";

export const serveCommand: Command = {
  name: "serve",
  summary: "serve the API (each option also read from the environment variable shown; flags win)",
  usage: "[options]",
  options: OPTIONS.map((o) => ({ name: o.flag.slice(2), value: "<value>", env: o.env, help: o.help })),
  run: serve,
};

async function serve(args: Args): Promise<number> {
  // Loaded here: the client commands need none of the server.
  const [{ createApp }, { loadKeys }, { defaultKernels }, { startNodeServer }] = await Promise.all([
    import("../app.ts"),
    import("../auth/keys-file.ts"),
    import("../kernels/defaults.ts"),
    import("../node.ts"),
  ]);
  // A private default: a predictable name in world-writable /tmp could be made first by another user.
  const dataHome = process.env.XDG_DATA_HOME || join(homedir(), ".local", "share");
  const raw: Record<string, unknown> = { dataDir: join(dataHome, "kiln", "sessions") };
  if (process.env.PORT) raw.port = process.env.PORT;
  for (const option of OPTIONS) {
    const value = args.values[option.flag.slice(2)];
    if (value !== undefined) raw[option.key] = value;
  }
  const config = parseConfig(raw);
  const keys = loadKeys(config, process.env);
  const { kernels, missing } = await defaultKernels(config.jsKernel);
  // JSON log lines on stdout, filtered by --log-level.
  const app = createApp({ config, kernels, keys, log: (line) => console.log(line) });
  const server = await startNodeServer(app, config);

  console.log(`kiln ${VERSION} listening on ${server.url}`);
  const served = Object.entries(app.catalog.available());
  console.log(`kernels: ${served.length ? served.map(([image, kernel]) => `${image} (${kernel})`).join(", ") : "none"}`);
  for (const [name, reason] of Object.entries(missing)) console.log(`kernel ${name} unavailable: ${reason}`);
  if (app.authRequired) console.log(`authentication required: ${keys.length} keypair(s)`);

  return new Promise<number>((resolve) => {
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
        resolve(0);
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
  });
}
