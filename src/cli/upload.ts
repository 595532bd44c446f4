// `kiln upload SESSION PATH...`: local files and directories into the session, each
// under the relative path it was named by.

import { filesFromPaths } from "../client/node.ts";
import { CLIENT_OPTIONS, clientOf, json, printJson, UsageError, type Args, type Command } from "./command.ts";
import { size } from "./progress.ts";
import { uploadAll } from "./transfer.ts";

export const uploadCommand: Command = {
  name: "upload",
  summary: "upload local files and directories into a session",
  usage: "SESSION PATH... [options]",
  options: CLIENT_OPTIONS,
  async run(args: Args) {
    const [ref, ...paths] = args.positionals;
    if (!ref || paths.length === 0) throw new UsageError("name a session and at least one path");
    const files = await filesFromPaths(paths);
    await uploadAll(clientOf(args).session(ref), files);
    const bytes = files.reduce((sum, f) => sum + (f.data as Uint8Array).byteLength, 0);
    if (json(args)) printJson({ session: ref, files: files.map((f) => f.path), bytes });
    else process.stdout.write(`uploaded ${files.length} file${files.length === 1 ? "" : "s"} (${size(bytes)})\n`);
    return 0;
  },
};
