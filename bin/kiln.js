#!/usr/bin/env node
// Starts the TypeScript CLI under Node with what isolated-vm needs
// (--no-node-snapshot) and tsx to load TypeScript, forwarding signals and the exit code.
// --expose-gc and two malloc arenas let an idle server give memory back (see Registry's trim).
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const cli = fileURLToPath(new URL("../src/cli.ts", import.meta.url));
const child = spawn(process.execPath, ["--no-node-snapshot", "--expose-gc", "--import", import.meta.resolve("tsx"), cli, ...process.argv.slice(2)], {
  // The IPC channel tells the server when this process is gone, even by SIGKILL (src/cli.ts).
  stdio: ["inherit", "inherit", "inherit", "ipc"],
  env: { MALLOC_ARENA_MAX: "2", ...process.env },
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
