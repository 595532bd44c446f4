// `kiln rm SESSION...`: destroys sessions with their files and processes.

import { KilnError } from "../client/index.ts";
import { CLIENT_OPTIONS, clientOf, json, printJson, UsageError, type Args, type Command } from "./command.ts";

export const rmCommand: Command = {
  name: "rm",
  summary: "remove sessions, their files and processes",
  usage: "SESSION... [options]",
  options: CLIENT_OPTIONS,
  async run(args: Args) {
    if (args.positionals.length === 0) throw new UsageError("name at least one session");
    const client = clientOf(args);
    const results: { session: string; removed: boolean; error?: string }[] = [];
    for (const ref of args.positionals) {
      try {
        await client.session(ref).destroy();
        results.push({ session: ref, removed: true });
      } catch (error) {
        if (!(error instanceof KilnError)) throw error;
        results.push({ session: ref, removed: false, error: error.message });
      }
    }
    if (json(args)) printJson(results);
    else for (const r of results) (r.removed ? process.stdout : process.stderr).write(r.removed ? `removed ${r.session}\n` : `kiln: ${r.session}: ${r.error}\n`);
    return results.every((r) => r.removed) ? 0 : 1;
  },
};
