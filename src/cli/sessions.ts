// `kiln sessions`: the server's live sessions (GET /sessions), oldest first.

import { CLIENT_OPTIONS, clientOf, json, printJson, text, type Args, type Command } from "./command.ts";
import { table } from "./table.ts";

export const sessionsCommand: Command = {
  name: "sessions",
  summary: "list the server's live sessions",
  usage: "[--tag TAG] [options]",
  options: [{ name: "tag", value: "TAG", help: "only the sessions created with this tag" }, ...CLIENT_OPTIONS],
  async run(args: Args) {
    const tag = text(args, "tag");
    const sessions = await clientOf(args).sessions(tag !== undefined ? { tag } : {});
    if (json(args)) printJson(sessions);
    else {
      const rows = sessions.map((s) => [s.sessionName, s.sessionId, s.image, s.status, age(s.age), s.tag ?? ""]);
      process.stdout.write(table(["NAME", "ID", "IMAGE", "STATUS", "AGE", "TAG"], rows));
    }
    return 0;
  },
};

function age(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}
