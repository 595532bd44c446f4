// Profiling aid for figure 1's throughput: a server under --cpu-prof (profile in
// PROFILE_DIR, default /tmp/kiln-prof) loaded with query runs by autocannon, and the
// CPU time its processes (server, isolate sandbox) used.
//   node --no-node-snapshot --import tsx bench/lib/profile-query.ts [SECONDS]

import autocannon from "autocannon";
import { readFileSync } from "node:fs";
import { createSession } from "./http.ts";
import { processTree, startServer } from "./proc.ts";

const seconds = Number(process.argv[2] ?? 5);
const dir = process.env.PROFILE_DIR ?? "/tmp/kiln-prof";
const server = await startServer({ kernels: ["isolate"] }, [`--cpu-prof`, `--cpu-prof-dir=${dir}`]);
const ids = await Promise.all(Array.from({ length: 32 }, () => createSession(server.url, { lang: "javascript" })));
const cpu = () =>
  processTree(server.pid).map((pid) => {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return { pid, ms: ((Number(f[11]) + Number(f[12])) * 1000) / 100 };
  });
const before = cpu();
let next = 0;
const body = JSON.stringify({ mode: "query", code: "1+1", runId: null });
const r = await autocannon({
  url: server.url + `/session/${ids[0]}`,
  connections: 32,
  duration: seconds,
  method: "POST",
  headers: { "content-type": "application/json" },
  body,
  setupClient: (c: any) => c.setRequests([{ method: "POST", path: `/session/${ids[next++ % ids.length]}`, headers: { "content-type": "application/json" }, body }]),
} as any);
const after = cpu();
console.log(`req/s ${r.requests.average}, non2xx ${r.non2xx}, p50 ${r.latency.p50} ms`);
for (const a of after) console.log(`pid ${a.pid}: ${(a.ms - (before.find((b) => b.pid === a.pid)?.ms ?? 0)).toFixed(0)} ms CPU over ${seconds} s`);
await server.stop();
