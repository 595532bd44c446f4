// The `kiln` command (bin/kiln.js starts it under Node): `kiln serve` runs the server,
// the other commands are clients of one (src/cli/, one file per command).

import { KilnError } from "./client/index.ts";
import { ConfigError } from "./config.ts";
import { VERSION } from "./version.ts";
import { helpText, parse, UsageError, type Command } from "./cli/command.ts";
import { createCommand } from "./cli/create.ts";
import { downloadCommand } from "./cli/download.ts";
import { EndOfInput } from "./cli/input.ts";
import { keygenCommand } from "./cli/keygen.ts";
import { lsCommand } from "./cli/ls.ts";
import { rmCommand } from "./cli/rm.ts";
import { runCommand } from "./cli/run.ts";
import { serveCommand } from "./cli/serve.ts";
import { sessionsCommand } from "./cli/sessions.ts";
import { uploadCommand } from "./cli/upload.ts";
import { DEFAULT_URL } from "./client/index.ts";

const COMMANDS: readonly Command[] = [serveCommand, keygenCommand, runCommand, createCommand, sessionsCommand, uploadCommand, lsCommand, downloadCommand, rmCommand];

const USAGE = `kiln ${VERSION}: a code-execution server that speaks Backend.AI's REST API, and its client

Usage: kiln COMMAND [options]      kiln COMMAND --help lists a command's options

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(10)} ${c.summary}`).join("\n")}

The client commands talk to --url or KILN_URL (default ${DEFAULT_URL}), sign requests with
--access-key/--secret-key (KILN_ACCESS_KEY/KILN_SECRET_KEY) or send KILN_TOKEN, and print
JSON with --json.`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(USAGE);
    return 0;
  }
  if (name === "--version") {
    console.log(VERSION);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) throw new UsageError(`unknown command "${name}"\n\n${USAGE}`);
  const args = parse(command, rest);
  if (args.values.help) {
    console.log(helpText(command));
    return 0;
  }
  return command.run(args);
}

/** Usage mistakes exit 2, failures 1; both with one line, not a stack. */
function report(error: unknown): number {
  const parseError = error instanceof TypeError && "code" in error && String(error.code).startsWith("ERR_PARSE_ARGS");
  if (error instanceof UsageError || error instanceof ConfigError || parseError) {
    console.error(`kiln: ${(error as Error).message}`);
    return 2;
  }
  if (error instanceof KilnError || error instanceof EndOfInput || (error instanceof Error && "code" in error && typeof error.code === "string")) {
    console.error(`kiln: ${error.message}`);
    return 1;
  }
  console.error("kiln:", error);
  return 1;
}

main(process.argv.slice(2)).then(
  (code) => exit(code),
  (error: unknown) => exit(report(error)),
);

/** Exits once stdout has taken everything written to it (a pipe may still hold some). */
function exit(code: number): void {
  process.stdout.write("", () => process.exit(code));
}
