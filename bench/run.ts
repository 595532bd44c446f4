// `npm run bench`: measures Kiln's seven figures against their raw baselines in one
// run, prints the table and writes bench/results/latest.{json,png,svg}.
//   npm run bench                 the full run (about 10 minutes)
//   npm run bench -- --quick      fewer iterations (about 2 minutes)
//   npm run bench -- --only 1,3   a subset
// Figures 3–5 need rootful podman and the C image; without them they are skipped.

import { cpus, freemem, loadavg, tmpdir, totalmem } from "node:os";
import { mkdtemp, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { figure1 } from "./fig1-js-query.ts";
import { figure2 } from "./fig2-js-session.ts";
import { figure3 } from "./fig3-podman-step.ts";
import { figure4 } from "./fig4-c-batch.ts";
import { figure5 } from "./fig5-podman-create.ts";
import { figure6 } from "./fig6-download.ts";
import { figure7 } from "./fig7-idle-memory.ts";
import { podmanUnavailable } from "./lib/podman.ts";
import { run } from "./lib/proc.ts";
import type { Ctx, FigureResult } from "./lib/types.ts";
import { markdown, table, writeResults, type Results } from "./results.ts";

const FIGURES: Record<string, (ctx: Ctx) => Promise<FigureResult>> = {
  "1": figure1,
  "2": figure2,
  "3": figure3,
  "4": figure4,
  "5": figure5,
  "6": figure6,
  "7": figure7,
};

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    out: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log("npm run bench [-- --quick] [--only 1,3,...] [--out DIR]");
  process.exit(0);
}
const only = values.only ? values.only.split(",").map((s) => s.trim()).filter(Boolean) : Object.keys(FIGURES);
for (const f of only) if (!FIGURES[f]) throw new Error(`--only: no figure ${f} (1–7)`);

process.on("SIGINT", () => process.exit(130));
process.on("SIGTERM", () => process.exit(143));
const started = Date.now();
const podmanVersion = await run("podman", ["--version"]).then((r) => (r.code === 0 ? r.stdout.trim() : null), () => null);
const results: Results = {
  startedAt: new Date(started).toISOString(),
  durationS: 0,
  quick: values.quick,
  machine: {
    cpuModel: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.versions.node,
    platform: `${process.platform} ${process.arch}`,
    loadAverageAtStart: loadavg(),
    podman: podmanVersion,
  },
  rows: [],
  skipped: [],
  errors: [],
};
console.log(`bench: ${results.machine.cpuModel}, ${results.machine.cores} cores, ${results.machine.memoryGiB} GiB (${(freemem() / 2 ** 30).toFixed(1)} free), Node ${results.machine.node}, load ${loadavg().map((l) => l.toFixed(2)).join(" ")}${values.quick ? ", quick" : ""}`);

const tmp = await mkdtemp(join(tmpdir(), "kiln-bench-"));
const needsPodman = only.some((f) => ["3", "4", "5"].includes(f));
const ctx: Ctx = {
  quick: values.quick,
  tmp,
  podmanUnavailable: needsPodman ? await podmanUnavailable() : null,
  log: (m) => console.log(`  ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s  ${m}`),
};
try {
  for (const f of only) {
    try {
      const result = await FIGURES[f]!(ctx);
      if ("skipped" in result) {
        results.skipped.push({ figure: f, reason: result.skipped });
        ctx.log(`figure ${f} skipped: ${result.skipped}`);
      } else {
        results.rows.push(...result.rows);
        for (const r of result.rows) ctx.log(`figure ${r.id}: ${r.valueLabel} (target ${r.target}) ${r.met ? "met" : "MISSED"}`);
      }
    } catch (error) {
      results.errors.push({ figure: f, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
      ctx.log(`figure ${f} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
} finally {
  await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
}
results.durationS = Math.round((Date.now() - started) / 100) / 10;

console.log("\n" + table(results) + "\n");
const out = values.out ?? join(dirname(fileURLToPath(import.meta.url)), "results");
const written = await writeResults(results, out);
await import("node:fs/promises").then((fs) => fs.writeFile(join(out, "latest.md"), markdown(results) + "\n"));
console.log(`bench: ${results.durationS} s; wrote ${written.json}${written.png ? `, ${written.png}` : ""}, ${written.svg}`);
process.exit(results.errors.length ? 1 : 0);
