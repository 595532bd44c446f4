// Figure 7: memory per idle JavaScript session — RSS of a fresh server process (and
// its isolate sandbox process) before and after 1,000 sessions are created, each
// having run `1+1` once; against 1,000 bare isolated-vm isolates with a context each,
// also in a fresh process.

import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createSession, expectOk, request } from "./lib/http.ts";
import { processTree, startServer, treeRss } from "./lib/proc.ts";
import { row, type Ctx, type FigureResult } from "./lib/types.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const MiB = 1024 * 1024;

function bareIsolates(n: number): Promise<{ before: number; after: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--no-node-snapshot", "--import", "tsx", join(HERE, "lib", "bare-isolates.ts"), String(n)], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("close", (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`bare-isolates: ${code}`))));
  });
}

export async function figure7(ctx: Ctx): Promise<FigureResult> {
  const n = ctx.quick ? 200 : 1000;
  const server = await startServer({ kernels: ["isolate"], config: { maxSessions: n + 10 } });
  try {
    if (!server.images.includes("javascript")) return { skipped: `the JavaScript kernel is unavailable: ${server.notes.join("; ")}` };
    const base = server.url;
    const first = await createSession(base, { lang: "javascript" });
    await expectOk(request(base, "POST", `/session/${first}`, { mode: "query", code: "1+1", runId: null }), "query");
    await new Promise((r) => setTimeout(r, 1000));
    const before = treeRss(server.pid);
    ctx.log(`figure 7: creating ${n} sessions`);
    let made = 0;
    const worker = async () => {
      while (made < n) {
        made++;
        const id = await createSession(base, { lang: "javascript" });
        await expectOk(request(base, "POST", `/session/${id}`, { mode: "query", code: "1+1", runId: null }), "query");
      }
    };
    await Promise.all(Array.from({ length: 4 }, worker));
    await new Promise((r) => setTimeout(r, 3000));
    const after = treeRss(server.pid);
    const procs = processTree(server.pid).length;
    const bare = await bareIsolates(n);
    const per = (after - before) / n / MiB;
    const barePer = (bare.after - bare.before) / n / MiB;
    return {
      rows: [
        row({
          id: "7",
          figure: `RSS per idle JS session (${n} sessions)`,
          kiln: { label: `server + sandbox RSS growth ÷ ${n} (${procs} processes; ${(before / MiB).toFixed(0)} → ${(after / MiB).toFixed(0)} MiB)`, unit: "MiB", median: per, p99: NaN, n: 1 },
          baseline: { label: `${n} bare isolates + contexts in a fresh process (${(bare.before / MiB).toFixed(0)} → ${(bare.after / MiB).toFixed(0)} MiB)`, unit: "MiB", median: barePer, p99: NaN, n: 1 },
          ratio: per / barePer,
          value: per,
          valueLabel: `${per.toFixed(2)} MiB/session`,
          limit: 2,
          better: "lower",
          target: "≤ 2 MiB per session",
        }),
      ],
    };
  } finally {
    await server.stop();
  }
}
