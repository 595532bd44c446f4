// Figure 1: a JavaScript query `1+1` over HTTP in an existing session, against a bare
// isolated-vm eval of the same code in a warm isolate (latency); and throughput with
// many concurrent clients (autocannon) against a bare Hono route on the same server.

import autocannon from "autocannon";
import { createRequire } from "node:module";
import { createSession, expectOk, request } from "./lib/http.ts";
import { startServer } from "./lib/proc.ts";
import { timePair } from "./lib/stats.ts";
import { row, type Ctx, type FigureResult } from "./lib/types.ts";

const require = createRequire(import.meta.url);

export async function figure1(ctx: Ctx): Promise<FigureResult> {
  const ivm = require("isolated-vm") as typeof import("isolated-vm");
  const server = await startServer({ kernels: ["isolate"] });
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
    // Where the added time goes: the HTTP + Hono floor (a route that does nothing with the same body).
    const { time } = await import("./lib/stats.ts");
    const floor = await time("POST /__bench/bare over HTTP (HTTP + Hono floor, same body)", Math.min(n, 1000), async () => {
      await request(base, "POST", "/__bench/bare", body);
    });

    // Throughput: one session per connection (runs of one session queue behind each other).
    const connections = 32;
    const duration = ctx.quick ? 3 : 10;
    const ids = await Promise.all(Array.from({ length: connections }, () => createSession(base, { lang: "javascript" })));
    const payload = JSON.stringify(body);
    const load = async (paths: string[]) => {
      let next = 0;
      const result = await autocannon({
        url: base + paths[0],
        connections,
        duration,
        method: "POST",
        headers: { "content-type": "application/json" },
        body: payload,
        setupClient: (client: any) => client.setRequests([{ method: "POST", path: paths[next++ % paths.length], headers: { "content-type": "application/json" }, body: payload }]),
      } as any);
      if (result.non2xx || result.errors) throw new Error(`autocannon: ${result.non2xx} non-2xx, ${result.errors} errors`);
      return result;
    };
    ctx.log(`figure 1: throughput, ${connections} connections × ${duration} s each`);
    await load(["/__bench/bare"]); // warm-up of both code paths
    const kilnLoad = await load(ids.map((s) => `/session/${s}`));
    const bareLoad = await load(["/__bench/bare"]);
    const rps = (r: autocannon.Result) => ({ label: "", unit: "req/s", median: r.requests.average, p99: r.requests.p2_5, n: r.requests.sent });
    const kilnRps = { ...rps(kilnLoad), label: `query 1+1, ${connections} connections, one session each (p99 column: 2.5th-percentile second)` };
    const bareRps = { ...rps(bareLoad), label: `bare Hono route on the same server, same body` };
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
          others: [floor],
          notes: [`of the ${added.toFixed(3)} ms added, ${floor.median.toFixed(3)} ms is the HTTP round trip to a do-nothing Hono route`],
        }),
        row({
          id: "1b",
          figure: `JS query throughput, ${connections} clients`,
          kiln: kilnRps,
          baseline: bareRps,
          ratio: kilnRps.median / bareRps.median,
          value: kilnRps.median / bareRps.median,
          valueLabel: `${((kilnRps.median / bareRps.median) * 100).toFixed(0)}% of bare`,
          limit: 0.5,
          better: "higher",
          target: "≥ 50% of bare Hono req/s",
          notes: [`latency under load p50/p99: kiln ${kilnLoad.latency.p50}/${kilnLoad.latency.p99} ms, bare ${bareLoad.latency.p50}/${bareLoad.latency.p99} ms`],
        }),
      ],
    };
  } finally {
    isolate.dispose();
    await server.stop();
  }
}
