// `kiln create --lang LANG`: a session that stays until `kiln rm` (or the server's idle
// timeout), for `kiln upload`, `kiln ls` and `kiln download`.

import { CLIENT_OPTIONS, clientOf, ENV_OPTION, environOf, json, LANG_OPTION, printJson, text, UsageError, type Args, type Command } from "./command.ts";

export const createCommand: Command = {
  name: "create",
  summary: "create a session (or reuse a live one of the same name) and print its name",
  usage: "--lang LANG [--name NAME] [options]",
  options: [
    LANG_OPTION,
    { name: "name", value: "NAME", help: "4–64 letters, digits, _, . and - (default a random kiln-… name)" },
    ENV_OPTION,
    { name: "tag", value: "TAG", help: "a tag to find the session by (kiln sessions --tag)" },
    ...CLIENT_OPTIONS,
  ],
  async run(args: Args) {
    const lang = text(args, "lang");
    if (!lang) throw new UsageError("--lang is required");
    const name = text(args, "name");
    const tag = text(args, "tag");
    const session = await clientOf(args).createSession({ lang, environ: environOf(args), ...(name ? { name } : {}), ...(tag ? { tag } : {}) });
    if (json(args)) printJson({ sessionId: session.id, sessionName: session.name, created: session.created });
    else process.stdout.write(`${session.name}\n`);
    return 0;
  },
};
