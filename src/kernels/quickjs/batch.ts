// A JavaScript kernel's batch steps, with no shell: `node FILE [ARGS…]`, `tsc`
// and "*" (clean: nothing; build: strip TypeScript on typescript sessions;
// exec: the first main file found). Kernel-neutral: the kernel supplies how a
// file runs. The isolate kernel has its own copy of this dispatch for now.

import type { BatchStep, StepIO } from "../kernel.ts";
import type { Vfs } from "../../vfs/vfs.ts";
import { WORK_DIR } from "../../vfs/paths.ts";
import { parseCommand } from "../isolate/commands.ts";
import { buildTypeScript } from "./build.ts";
import { sessionPath } from "./modules.ts";
import { resolvePath } from "./posix.ts";

const MAIN_CANDIDATES = ["main.js", "main.mjs", "main.ts", "index.js"];

export interface BatchHost {
  image: string;
  vfs: Vfs;
  runFile(file: string, args: string[], io: StepIO): Promise<number>;
}

export async function batchStep(host: BatchHost, step: BatchStep, command: string, io: StepIO): Promise<number> {
  const isFile = async (file: string) => {
    const sp = sessionPath(file);
    return sp !== null && (await host.vfs.stat(sp))?.kind === "file";
  };
  const cmd = parseCommand(command);
  if (cmd.kind === "unsupported") {
    io.write("stderr", `${cmd.reason}\n`);
    return 127;
  }
  if (cmd.kind === "tsc") return buildTypeScript(host.vfs, io, cmd.files);
  if (cmd.kind === "node") {
    const file = resolvePath(WORK_DIR, cmd.file);
    if (await isFile(file)) return host.runFile(file, cmd.args, io);
    io.write("stderr", `Error: Cannot find module '${file}'\n`);
    return 127;
  }
  if (step === "clean") return 0;
  if (step === "build") return host.image === "typescript" ? buildTypeScript(host.vfs, io, []) : 0;
  for (const name of MAIN_CANDIDATES) {
    if (await isFile(`${WORK_DIR}/${name}`)) return host.runFile(`${WORK_DIR}/${name}`, [], io);
  }
  io.write("stderr", `exec: nothing to run (no ${MAIN_CANDIDATES.join(", ")})\n`);
  return 127;
}
