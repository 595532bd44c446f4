// At start-up, a factory removes the containers and host state directories of dead
// instances of this host (see src/instance.ts for what an instance id is).

import { promises as fsp } from "node:fs";
import { join } from "node:path";
import { instanceAlive } from "../../instance.ts";
import { listContainers, mountsUnder, removeContainer, unmountAll } from "./driver.ts";

export { currentInstanceId, instanceAlive } from "../../instance.ts";

export interface SweepReport {
  containers: string[];
  stateDirs: string[];
}

/**
 * Removes containers of dead instances of this host, and their host state directories
 * under `stateRoot` (after unmounting whatever is mounted there: never a recursive
 * delete across a mount point, which could reach a session's files).
 */
export async function sweepOrphans(stateRoot: string, self: string): Promise<SweepReport> {
  const report: SweepReport = { containers: [], stateDirs: [] };
  for (const container of await listContainers("kiln.instance")) {
    const owner = container.labels["kiln.instance"] ?? "";
    if (owner === self || instanceAlive(owner) !== false) continue;
    // One container or directory that resists must not stop the sweep of the others.
    try {
      await removeContainer(container.name);
      report.containers.push(container.name);
    } catch {
      // Left for the next start.
    }
  }
  let entries: string[] = [];
  try {
    entries = await fsp.readdir(stateRoot);
  } catch {
    return report;
  }
  for (const entry of entries) {
    if (entry === self || instanceAlive(entry) !== false) continue;
    const dir = join(stateRoot, entry);
    try {
      await unmountAll(dir);
      if (mountsUnder(dir).length > 0) continue;
      await fsp.rm(dir, { recursive: true, force: true });
      report.stateDirs.push(dir);
    } catch {
      // Left for the next start.
    }
  }
  return report;
}
