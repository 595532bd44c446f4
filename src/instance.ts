// Which server process made something, and whether it still lives. Things a server
// leaves on the host (containers, state directories, session filesystems) carry its
// instance id, `${hostname}-${pid}-${start}`, with `start` the process's start time in
// clock ticks since boot (field 22 of /proc/<pid>/stat), so a recycled pid is not taken
// for the server. What belongs to a dead instance of this host is removed at start-up.

import { readFileSync } from "node:fs";
import { hostname } from "node:os";

const INSTANCE = /^([A-Za-z0-9._]+)-(\d+)-(\d+)$/;

function safeHostname(): string {
  return hostname().replace(/[^A-Za-z0-9.]/g, "_").slice(0, 64) || "host";
}

/** The process's start time, or null when it is gone (a zombie, killed but not yet reaped, is gone). */
function startTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: count from the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[0] === "Z" || fields[0] === "X") return null;
    return fields[19] ?? null;
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
