// Figure 2: a JavaScript session created, one run, deleted, end to end over HTTP;
// against the bare mechanism: a new isolated-vm isolate + context, one eval, dispose.

import { createRequire } from "node:module";
import { createSession, expectOk, request } from "./lib/http.ts";
import { startServer } from "./lib/proc.ts";
import { nowMs, summarize, timePair } from "./lib/stats.ts";
import { row, type Ctx, type FigureResult } from "./lib/types.ts";

const require = createRequire(import.meta.url);

export async function figure2(ctx: Ctx): Promise<FigureResult> {
  const ivm = require("isolated-vm") as typeof import("isolated-vm");
  const server = await startServer({ kernels: ["isolate"] });
  try {
    if (!server.images.includes("javascript")) return { skipped: `the JavaScript kernel is unavailable: ${server.notes.join("; ")}` };
    const base = server.url;
    const n = ctx.quick ? 60 : 500;
    const phases = { create: [] as number[], query: [] as number[], delete: [] as number[] };
    ctx.log(`figure 2: ${n} rounds each`);
    const [kiln, bare] = await timePair(
      n,
      {
        label: "POST /session + query 1+1 + DELETE",
        body: async () => {
          const t0 = nowMs();
          const id = await createSession(base, { lang: "javascript" });
          const t1 = nowMs();
          const r = await expectOk(request(base, "POST", `/session/${id}`, { mode: "query", code: "1+1", runId: null }), "query");
          if (r.result.status !== "finished") throw new Error(`query answered ${r.result.status}`);
          const t2 = nowMs();
          await expectOk(request(base, "DELETE", `/session/${id}`), "delete");
          phases.create.push(t1 - t0);
          phases.query.push(t2 - t1);
          phases.delete.push(nowMs() - t2);
        },
      },
      {
        label: "new ivm.Isolate + createContext + eval + dispose",
        body: async () => {
          const isolate = new ivm.Isolate({ memoryLimit: 128 });
          const context = await isolate.createContext();
          await context.eval("1+1");
          isolate.dispose();
        },
      },
      10,
    );
    return {
      rows: [
        row({
          id: "2",
          figure: "JS session create + run + delete",
          kiln,
          baseline: bare,
          ratio: kiln.median / bare.median,
          value: kiln.median,
          valueLabel: `${kiln.median.toFixed(2)} ms`,
          limit: 10,
          better: "lower",
          target: "≤ 10 ms median",
          others: Object.entries(phases).map(([phase, samples]) => summarize(`${phase} alone (within the same rounds, warm-up included)`, "ms", samples)),
        }),
      ],
    };
  } finally {
    await server.stop();
  }
}
