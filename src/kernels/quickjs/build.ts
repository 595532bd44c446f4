// The TypeScript build step (`build: "*"` on a typescript session, or `tsc`):
// each .ts file's types stripped into a .js beside it, by the isolate kernel's
// transpiler. Kernel-neutral: it needs only the VFS and the step's output.

import type { StepIO } from "../kernel.ts";
import type { Vfs } from "../../vfs/vfs.ts";
import { WORK_DIR } from "../../vfs/paths.ts";
import { isTypeScript, outputPath, stripTypes, TranspileError } from "../isolate/transpile.ts";
import { sessionPath } from "./modules.ts";
import { resolvePath } from "./posix.ts";

/** Strips the given files (paths relative to /home/work), or every .ts file in the session. Exit code 2 if any failed. */
export async function buildTypeScript(vfs: Vfs, io: StepIO, files: string[]): Promise<number> {
  const targets = files.length > 0 ? files.map((f) => sessionPath(resolvePath(WORK_DIR, f))) : await sources(vfs, "");
  let failed = 0;
  for (const target of targets) {
    try {
      if (target === null || !isTypeScript(target)) throw new TranspileError(`error: ${String(target)} is not a TypeScript file in ${WORK_DIR}`);
      const js = await stripTypes(new TextDecoder().decode(await vfs.readFile(target)), target);
      await vfs.writeFiles([{ path: outputPath(target), data: new TextEncoder().encode(js) }]);
    } catch (error) {
      io.write("stderr", `${error instanceof TranspileError ? error.message : `${target}: ${error instanceof Error ? error.message : String(error)}`}\n`);
      failed++;
    }
  }
  return failed > 0 ? 2 : 0;
}

async function sources(vfs: Vfs, dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await vfs.list(dir)) {
    const path = dir ? `${dir}/${entry.name}` : entry.name;
    if (entry.kind === "dir" && entry.name !== "node_modules" && !entry.name.startsWith(".")) out.push(...(await sources(vfs, path)));
    else if (entry.kind === "file" && isTypeScript(path)) out.push(path);
  }
  return out;
}
