// `kiln ls SESSION [PATH]`: a directory of the session, like ls -l.

import { CLIENT_OPTIONS, clientOf, json, printJson, UsageError, type Args, type Command } from "./command.ts";
import { table } from "./table.ts";

export const lsCommand: Command = {
  name: "ls",
  summary: "list a directory of a session (default /home/work)",
  usage: "SESSION [PATH] [options]",
  options: CLIENT_OPTIONS,
  async run(args: Args) {
    const [ref, path] = args.positionals;
    if (!ref || args.positionals.length > 2) throw new UsageError("name a session and at most one path");
    const entries = await clientOf(args).session(ref).listFiles(path);
    if (json(args)) printJson(entries);
    else {
      const rows = entries.map((e) => [e.mode, String(e.size), new Date(e.mtime * 1000).toISOString().slice(0, 19).replace("T", " "), e.kind === "dir" ? `${e.filename}/` : e.filename]);
      process.stdout.write(table(["MODE", "SIZE", "MODIFIED", "NAME"], rows));
    }
    return 0;
  },
};
