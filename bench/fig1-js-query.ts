// Figure 1: a JavaScript query `1+1` over HTTP in an existing session, against a bare
// isolated-vm eval of the same code in a warm isolate (latency); and throughput with
// many concurrent clients (autocannon) against a bare Hono route on the same server.
//
// Both also get the floor of their architecture, measured in the same run: the same HTTP
// stack handing each request to a child process over IPC (batched as Kiln's sandbox
// process is) and back, alone and with one isolated-vm eval per request in one of 32 warm
// isolates there. That server is this file, run as `floor-server` (see floorServer below).

import autocannon from "autocannon";
import { fork, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Outbox } from "../src/kernels/isolate/outbox.ts";
import { createSession, expectOk, request } from "./lib/http.ts";
import { processTree, startServer } from "./lib/proc.ts";
import { time, timePair, type Measure } from "./lib/stats.ts";
import { row, type Ctx, type FigureResult } from "./lib/types.ts";

const require = createRequire(import.meta.url);
const CONNECTIONS = 32;
/** What the bare route and the floor routes answer: a finished query's result. */
const PAYLOAD = JSON.stringify({ result: { runId: "bare", status: "finished", exitCode: 0, options: null, files: [], console: [["stdout", "2\n"]] } });

export async function figure1(ctx: Ctx): Promise<FigureResult> {
  const ivm = require("isolated-vm") as typeof import("isolated-vm");
  const server = await startServer({ kernels: ["isolate"] });
  const floorServer = await startFloorServer();
  const isolate = new ivm.Isolate({ memoryLimit: 128 });
  try {
    if (!server.images.includes("javascript")) return { skipped: `the JavaScript kernel is unavailable: ${server.notes.join("; ")}` };
    const base = server.url;
    const id = await createSession(base, { lang: "javascript" });
    const context = await isolate.createContext();
    const body = { mode: "query", code: "1+1", runId: null };
    const check = await expectOk(request(base, "POST", `/session/${id}`, body), "query");
    if (check.result.status !== "finished") throw new Error(`query 1+1 answered ${check.result.status}`);

    const n = ctx.quick ? 300 : 3000;
    ctx.log(`figure 1: latency, ${n} rounds each`);
    const [kiln, bare] = await timePair(
      n,
      {
        label: "HTTP POST /session/:id query 1+1",
        body: async () => {
          const a = await request(base, "POST", `/session/${id}`, body);
          if (a.status !== 200) throw new Error(`query: ${a.status}`);
        },
      },
      { label: "isolated-vm context.eval('1+1'), warm isolate", body: () => context.eval("1+1") },
      50,
    );
    const added = kiln.median - bare.median;
    // Where the added time goes: the HTTP + Hono floor (a route that does nothing with the same body),
    // and the floor of the architecture (HTTP, the process boundary and one isolate entry).
    const floor = await time("POST /__bench/bare over HTTP (HTTP + Hono floor, same body)", Math.min(n, 1000), async () => {
      await request(base, "POST", "/__bench/bare", body);
    });
    const boundary = await time("HTTP → child process (IPC) → isolated-vm eval('1+1') → reply: the architecture's floor", Math.min(n, 1000), async () => {
      await request(floorServer.url, "POST", "/floor/isolate/0", body);
    });

    // Throughput: one session per connection (runs of one session queue behind each other).
    const duration = ctx.quick ? 3 : 10;
    const ids = await Promise.all(Array.from({ length: CONNECTIONS }, () => createSession(base, { lang: "javascript" })));
    const payload = JSON.stringify(body);
    const load = async (url: string, paths: string[]) => {
      let next = 0;
      const result = await autocannon({
        url: url + paths[0],
        connections: CONNECTIONS,
        duration,
        method: "POST",
        headers: { "content-type": "application/json" },
        body: payload,
        setupClient: (client: any) => client.setRequests([{ method: "POST", path: paths[next++ % paths.length], headers: { "content-type": "application/json" }, body: payload }]),
      } as any);
      if (result.non2xx || result.errors) throw new Error(`autocannon: ${result.non2xx} non-2xx, ${result.errors} errors`);
      return result;
    };
    const each = (kind: string) => Array.from({ length: CONNECTIONS }, (_, i) => `/floor/${kind}/${i}`);
    ctx.log(`figure 1: throughput, ${CONNECTIONS} connections × ${duration} s each`);
    await load(base, ["/__bench/bare"]); // warm-up of both code paths
    await load(floorServer.url, each("isolate")); // and of the floor's isolates
    const cpuBefore = cpuMs(server.pid);
    const kilnLoad = await load(base, ids.map((s) => `/session/${s}`));
    const cpu = cpuMs(server.pid).map((p, i) => (p - cpuBefore[i]!) / kilnLoad.requests.total);
    const bareLoad = await load(base, ["/__bench/bare"]);
    const ipcLoad = await load(floorServer.url, each("ipc"));
    const floorBefore = cpuMs(floorServer.child.pid!);
    const isolateLoad = await load(floorServer.url, each("isolate"));
    const floorCpu = cpuMs(floorServer.child.pid!).map((p, i) => (p - floorBefore[i]!) / isolateLoad.requests.total);
    const rps = (label: string, r: autocannon.Result): Measure => ({ label, unit: "req/s", median: r.requests.average, p99: r.requests.p2_5, n: r.requests.sent });
    const kilnRps = rps(`query 1+1, ${CONNECTIONS} connections, one session each (p99 column: 2.5th-percentile second)`, kilnLoad);
    const bareRps = rps(`bare Hono route on the same server, same body`, bareLoad);
    const ipcRps = rps(`floor: the same HTTP stack → a child process over IPC (batched) → reply`, ipcLoad);
    const isolateRps = rps(`floor: … and one isolated-vm eval('1+1') per request in the child, one of ${CONNECTIONS} warm isolates`, isolateLoad);
    const pct = (a: Measure, b: Measure) => `${((a.median / b.median) * 100).toFixed(0)}%`;
    const throughputNotes = [
      `latency under load p50/p99: kiln ${kilnLoad.latency.p50}/${kilnLoad.latency.p99} ms, bare ${bareLoad.latency.p50}/${bareLoad.latency.p99} ms`,
      `floor with the process boundary: ${ipcRps.median.toFixed(0)} req/s (${pct(ipcRps, bareRps)} of bare); with one isolate entry per request ${isolateRps.median.toFixed(0)} req/s (${pct(isolateRps, bareRps)} of bare); Kiln reaches ${pct(kilnRps, isolateRps)} of that floor`,
      `CPU per query under load: server ${cpu[0]!.toFixed(3)} ms, isolate sandbox process ${cpu[1]!.toFixed(3)} ms; per request of the isolate floor: server ${floorCpu[0]!.toFixed(3)} ms, child ${floorCpu[1]!.toFixed(3)} ms`,
    ];
    for (const note of throughputNotes.slice(1)) ctx.log(`figure 1b: ${note}`);
    return {
      rows: [
        row({
          id: "1a",
          figure: "JS query 1+1 over HTTP, existing session",
          kiln,
          baseline: bare,
          ratio: kiln.median / bare.median,
          value: added,
          valueLabel: `${added.toFixed(3)} ms added`,
          limit: 1,
          better: "lower",
          target: "≤ 1 ms added (median)",
          others: [floor, boundary],
          notes: [
            `of the ${added.toFixed(3)} ms added, ${floor.median.toFixed(3)} ms is the HTTP round trip to a do-nothing Hono route, and ${(boundary.median - bare.median).toFixed(3)} ms that plus a child process and an isolate entry with nothing of Kiln's around them`,
          ],
        }),
        row({
          id: "1b",
          figure: `JS query throughput, ${CONNECTIONS} clients`,
          kiln: kilnRps,
          baseline: bareRps,
          others: [ipcRps, isolateRps],
          ratio: kilnRps.median / bareRps.median,
          value: kilnRps.median / bareRps.median,
          valueLabel: `${((kilnRps.median / bareRps.median) * 100).toFixed(0)}% of bare`,
          limit: 0.5,
          better: "higher",
          target: "≥ 50% of bare Hono req/s",
          notes: throughputNotes,
        }),
      ],
    };
  } finally {
    isolate.dispose();
    floorServer.child.kill("SIGTERM");
    await server.stop();
  }
}

/** CPU time so far of a server process and of its descendants (the isolate sandbox process), ms. */
function cpuMs(pid: number): [number, number] {
  const of = (p: number) => {
    try {
      const fields = readFileSync(`/proc/${p}/stat`, "utf8").split(") ")[1]!.split(" ");
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
    } catch {
      return 0;
    }
  };
  return [of(pid), processTree(pid).slice(1).reduce((sum, p) => sum + of(p), 0)];
}

function startFloorServer(): Promise<{ url: string; child: ReturnType<typeof spawn> }> {
  const child = spawn(process.execPath, ["--no-node-snapshot", "--import", "tsx", fileURLToPath(import.meta.url), "floor-server"], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`the floor server exited with ${code} before listening`)));
    createInterface({ input: child.stdout! }).once("line", (line) => resolve({ url: (JSON.parse(line) as { url: string }).url, child }));
  });
}

/** A request handed to the floor's child: eval in isolate `isolate`, or nothing when it is -1. */
interface FloorCall {
  rid: number;
  isolate: number;
}

/** POST /floor/ipc/:n and /floor/isolate/:n on Kiln's HTTP stack (@hono/node-server, Hono). */
async function floorServer(): Promise<void> {
  const { serve } = await import("@hono/node-server");
  const { Hono } = await import("hono");
  const child = fork(fileURLToPath(import.meta.url), ["floor-child"], { execArgv: ["--no-node-snapshot", "--import", "tsx"], serialization: "advanced" });
  const waiting = new Map<number, () => void>();
  const outbox = new Outbox<FloorCall>((batch) => child.send(batch));
  child.on("message", (rids: number[]) => {
    for (const rid of rids) waiting.get(rid)?.();
  });
  let nextRid = 1;
  const app = new Hono();
  app.post("/floor/:kind/:n", async (c) => {
    await c.req.arrayBuffer();
    const rid = nextRid++;
    await new Promise<void>((resolve) => {
      waiting.set(rid, resolve);
      outbox.post({ rid, isolate: c.req.param("kind") === "isolate" ? Number(c.req.param("n")) : -1 });
    });
    waiting.delete(rid);
    return c.body(PAYLOAD, 200, { "content-type": "application/json" });
  });
  const server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 });
  server.once("listening", () => console.log(JSON.stringify({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}` })));
  process.on("SIGTERM", () => {
    child.kill();
    process.exit(0);
  });
}

/** The floor's stand-in for the sandbox process: answers each call, after an eval where asked. */
function floorChild(): void {
  const ivm = require("isolated-vm") as typeof import("isolated-vm");
  const contexts = new Map<number, Promise<import("isolated-vm").Context>>();
  const outbox = new Outbox<number>((rids) => process.send?.(rids));
  const context = (n: number) => {
    let found = contexts.get(n);
    if (!found) contexts.set(n, (found = new ivm.Isolate({ memoryLimit: 128 }).createContext()));
    return found;
  };
  process.on("message", (batch: FloorCall[]) => {
    for (const { rid, isolate } of batch) {
      if (isolate < 0) outbox.post(rid);
      else void context(isolate).then((c) => c.eval("1+1").then(() => outbox.post(rid)));
    }
  });
  process.on("disconnect", () => process.exit(0));
}

if (process.argv[2] === "floor-server") await floorServer();
else if (process.argv[2] === "floor-child") floorChild();
