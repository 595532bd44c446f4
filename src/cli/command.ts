// What every `kiln` subcommand shares: its options declared once (they make both the
// parser and the --help text), the client options (--url, keys, --json) read from
// flags or the environment, and the errors that end a command with a message.

import { parseArgs } from "node:util";
import { DEFAULT_URL, KilnClient } from "../client/index.ts";

export interface OptionSpec {
  /** The flag without its dashes. */
  name: string;
  short?: string;
  /** Placeholder of the value; a flag without one is a switch. */
  value?: string;
  multiple?: boolean;
  /** Read from this environment variable when the flag is absent. */
  env?: string;
  help: string;
}

export interface Command {
  name: string;
  summary: string;
  /** What follows `kiln <name>`. */
  usage: string;
  options: readonly OptionSpec[];
  /** Runs with the parsed flags and positionals; resolves with the exit code. */
  run(args: Args): Promise<number>;
}

export interface Args {
  values: Record<string, string | string[] | boolean | undefined>;
  positionals: string[];
}

/** A mistake in how the command was called: its message and exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

export const CLIENT_OPTIONS: readonly OptionSpec[] = [
  { name: "url", value: "URL", env: "KILN_URL", help: `the Kiln server (default ${DEFAULT_URL})` },
  { name: "access-key", value: "KEY", env: "KILN_ACCESS_KEY", help: "sign requests with this Backend.AI access key…" },
  { name: "secret-key", value: "KEY", env: "KILN_SECRET_KEY", help: "…and this secret key" },
  { name: "token", value: "TOKEN", env: "KILN_TOKEN", help: "or send Authorization: Bearer TOKEN (used when no keypair is given)" },
  { name: "json", help: "print the result as JSON, for scripts" },
];

export const LANG_OPTION: OptionSpec = { name: "lang", value: "LANG", help: "the language or image: javascript, typescript, c, cpp, python, go, rust, java, bash" };

export const ENV_OPTION: OptionSpec = { name: "env", value: "KEY=VALUE", multiple: true, help: "an environment variable for the session's programs" };

const HELP: OptionSpec = { name: "help", short: "h", help: "this text" };

export function parse(command: Command, argv: readonly string[]): Args {
  const specs = [...command.options, HELP];
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: Object.fromEntries(
      specs.map((o) => [o.name, { type: o.value ? ("string" as const) : ("boolean" as const), ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) }]),
    ),
    allowPositionals: true,
    strict: true,
  });
  const read = values as Args["values"];
  for (const option of command.options) {
    const fromEnv = option.env ? process.env[option.env] : undefined;
    if (read[option.name] === undefined && fromEnv) read[option.name] = fromEnv;
  }
  return { values: read, positionals };
}

export function helpText(command: Command): string {
  const lines = [`kiln ${command.name}: ${command.summary}`, "", `Usage: kiln ${command.name} ${command.usage}`, "", "Options:"];
  for (const option of [...command.options, HELP]) {
    const flag = `${option.short ? `-${option.short}, ` : ""}--${option.name}${option.value ? ` ${option.value}` : ""}`;
    lines.push(`  ${flag.padEnd(24)} ${(option.env ?? "").padEnd(16)} ${option.help}${option.multiple ? " (repeatable)" : ""}`);
  }
  return lines.join("\n");
}

export function text(args: Args, name: string): string | undefined {
  const value = args.values[name];
  return typeof value === "string" ? value : undefined;
}

export function list(args: Args, name: string): string[] {
  const value = args.values[name];
  return Array.isArray(value) ? value : typeof value === "string" ? [value] : [];
}

export function json(args: Args): boolean {
  return args.values.json === true;
}

/** The client the flags and environment describe: a keypair when both keys are there, else a token. */
export function clientOf(args: Args): KilnClient {
  const accessKey = text(args, "access-key");
  const secretKey = text(args, "secret-key");
  if ((accessKey === undefined) !== (secretKey === undefined)) throw new UsageError("--access-key and --secret-key (KILN_ACCESS_KEY, KILN_SECRET_KEY) go together");
  const token = text(args, "token");
  const url = text(args, "url") ?? DEFAULT_URL;
  if (accessKey !== undefined && secretKey !== undefined) return new KilnClient({ url, accessKey, secretKey });
  return new KilnClient({ url, ...(token !== undefined ? { token } : {}) });
}

/** KEY=VALUE pairs of --env. */
export function environOf(args: Args): Record<string, string> {
  const environ: Record<string, string> = {};
  for (const pair of list(args, "env")) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new UsageError(`--env ${pair}: expected KEY=VALUE`);
    environ[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return environ;
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + "\n");
}
