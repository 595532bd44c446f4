// Which server a container belongs to, and whether that server still lives. Containers
// and host state directories carry the instance id of the server that made them:
// `${hostname}-${pid}-${start}`, with `start` the process's start time in clock ticks
// since boot (field 22 of /proc/<pid>/stat), so a recycled pid is not taken for the
// server. At start-up, a factory removes what belongs to dead instances of this host.

import { readFileSync, promises as fsp } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { listContainers, mountsUnder, removeContainer, unmountAll } from "./driver.ts";

const INSTANCE = /^([A-Za-z0-9._]+)-(\d+)-(\d+)$/;

function safeHostname(): string {
  return hostname().replace(/[^A-Za-z0-9.]/g, "_").slice(0, 64) || "host";
}

function startTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: count from the last ")".
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
  } catch {
    return null;
  }
}

/** This process's instance id. */
export function currentInstanceId(): string {
  return `${safeHostname()}-${process.pid}-${startTime(process.pid) ?? "0"}`;
}

/** true / false for an instance of this host; null when it belongs to another host (or is not an id). */
export function instanceAlive(id: string): boolean | null {
  const match = INSTANCE.exec(id);
  if (!match || match[1] !== safeHostname()) return null;
  const start = startTime(Number(match[2]));
  return start !== null && start === match[3];
}

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
    await removeContainer(container.name);
    report.containers.push(container.name);
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
    await unmountAll(dir);
    if (mountsUnder(dir).length > 0) continue;
    await fsp.rm(dir, { recursive: true, force: true });
    report.stateDirs.push(dir);
  }
  return report;
}
