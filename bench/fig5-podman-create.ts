// Figure 5: a podman (C) session created over HTTP, from the warm pool against cold
// (pool disabled: podman run + the runner's connection). Deletes are not timed.

import { join } from "node:path";
import { createSession, expectOk, request } from "./lib/http.ts";
import { startServer } from "./lib/proc.ts";
import { time } from "./lib/stats.ts";
import { row, type Ctx, type FigureResult } from "./lib/types.ts";

export async function figure5(ctx: Ctx): Promise<FigureResult> {
  if (ctx.podmanUnavailable) return { skipped: ctx.podmanUnavailable };
  const n = ctx.quick ? 6 : 25;
  const measure = async (poolSize: number, label: string) => {
    const server = await startServer({ kernels: ["podman"], podmanLanguages: ["c"], dataDir: join(ctx.tmp, `fig5-data-${poolSize}`), podmanPoolSize: poolSize });
    try {
      if (!server.images.includes("c")) throw new Error(`the podman C kernel is unavailable: ${server.notes.join("; ")}`);
      const base = server.url;
      let id = "";
      return await time(
        label,
        n,
        async () => {
          id = await createSession(base, { lang: "c" });
        },
        {
          warmup: 1,
          prepare: async () => {
            if (id) await expectOk(request(base, "DELETE", `/session/${id}`), "delete");
            id = "";
            await expectOk(request(base, "POST", "/__bench/settle"), "settle");
          },
        },
      );
    } finally {
      await server.stop();
    }
  };
  ctx.log(`figure 5: ${n} creates each, warm then cold`);
  const warm = await measure(1, "POST /session lang c, warm pool (refilled between rounds)");
  const cold = await measure(0, "POST /session lang c, pool disabled (cold podman run)");
  return {
    rows: [
      row({
        id: "5",
        figure: "podman session create, warm pool",
        kiln: warm,
        baseline: cold,
        ratio: warm.median / cold.median,
        value: warm.median,
        valueLabel: `${warm.median.toFixed(1)} ms`,
        limit: 100,
        better: "lower",
        target: "≤ 100 ms median from the pool",
      }),
    ],
  };
}
