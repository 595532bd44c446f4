// `kiln download SESSION PATH...`: files and directories of a session, extracted into
// --out DIR (default the current directory), or as one zip with --zip FILE.

import { createWriteStream } from "node:fs";
import { Writable } from "node:stream";
import { CLIENT_OPTIONS, clientOf, json, printJson, text, UsageError, type Args, type Command } from "./command.ts";
import { progressBar } from "./progress.ts";
import { downloadInto } from "./transfer.ts";

export const downloadCommand: Command = {
  name: "download",
  summary: "download files and directories of a session",
  usage: "SESSION PATH... [--out DIR | --zip FILE] [options]",
  options: [
    { name: "out", value: "DIR", help: "extract into DIR (default the current directory); each path lands under its base name" },
    { name: "zip", value: "FILE", help: "write one zip archive to FILE instead (- for stdout)" },
    ...CLIENT_OPTIONS,
  ],
  async run(args: Args) {
    const [ref, ...paths] = args.positionals;
    if (!ref || paths.length === 0) throw new UsageError("name a session and at least one path");
    const session = clientOf(args).session(ref);
    const zip = text(args, "zip");
    if (zip !== undefined) {
      if (text(args, "out") !== undefined) throw new UsageError("--out and --zip exclude each other");
      const bar = progressBar("download");
      try {
        const archive = await session.downloadZip(paths, { onProgress: (p) => bar.update(p) });
        const sink = zip === "-" ? process.stdout : createWriteStream(zip);
        await archive.body.pipeTo(Writable.toWeb(sink) as WritableStream<Uint8Array>);
      } finally {
        bar.done();
      }
      if (json(args) && zip !== "-") printJson({ session: ref, zip });
      return 0;
    }
    const files = await downloadInto(session, paths, text(args, "out") ?? ".", false);
    if (json(args)) printJson({ session: ref, files });
    else process.stdout.write(`downloaded ${files.length} entr${files.length === 1 ? "y" : "ies"}\n`);
    return 0;
  },
};
