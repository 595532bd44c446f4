// The results writer: the table on stdout, bench/results/latest.json, and
// bench/results/latest.png — an SVG bar chart rendered to PNG with @resvg/resvg-js
// (prebuilt binaries from npm, no browser or system libraries; DejaVu Sans if present).

import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Measure } from "./lib/stats.ts";
import type { Row } from "./lib/types.ts";

export interface Machine {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  node: string;
  platform: string;
  loadAverageAtStart: number[];
  podman: string | null;
}

export interface Results {
  startedAt: string;
  durationS: number;
  quick: boolean;
  machine: Machine;
  rows: Row[];
  skipped: { figure: string; reason: string }[];
  errors: { figure: string; error: string }[];
}

const fmt = (m: Measure) => {
  const d = m.unit === "ms" ? (m.median < 10 ? 2 : 1) : m.unit === "req/s" ? 0 : m.unit === "MiB/s" ? 0 : 2;
  const p = Number.isNaN(m.p99) ? "" : ` (p99 ${m.p99.toFixed(d)})`;
  return `${m.median.toFixed(d)} ${m.unit}${p}`;
};

export function table(results: Results): string {
  const head = ["#", "figure", "Kiln", "baseline", "ratio", "target", "met?"];
  const lines = results.rows.map((r) => [
    r.id,
    r.figure,
    fmt(r.kiln),
    fmt(r.baseline),
    Number.isNaN(r.ratio) ? "—" : `${r.ratio.toFixed(2)}×`,
    `${r.target} → ${r.valueLabel}`,
    r.met ? "yes" : "NO",
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmtLine = (l: string[]) => l.map((c, i) => c.padEnd(widths[i]!)).join("  ");
  const out = [fmtLine(head), widths.map((w) => "-".repeat(w)).join("  "), ...lines.map(fmtLine)];
  for (const s of results.skipped) out.push(`${s.figure}  skipped: ${s.reason}`);
  for (const e of results.errors) out.push(`${e.figure}  FAILED: ${e.error}`);
  return out.join("\n");
}

export function markdown(results: Results): string {
  const out = ["| # | Figure | Kiln (median, p99) | Baseline (median, p99) | Ratio | Target | Met? |", "|---|---|---|---|---|---|---|"];
  for (const r of results.rows) {
    out.push(`| ${r.id} | ${r.figure} | ${fmt(r.kiln)} | ${r.baseline.label}: ${fmt(r.baseline)} | ${Number.isNaN(r.ratio) ? "—" : r.ratio.toFixed(2) + "×"} | ${r.target} (${r.valueLabel}) | ${r.met ? "yes" : "**no**"} |`);
  }
  return out.join("\n");
}

/** Each bar: how much of its target the figure uses (value ÷ limit, or limit ÷ value for "≥" targets); ≤ 1 meets it. */
export function svg(results: Results): string {
  const rows = results.rows;
  const W = 1000;
  const rowH = 44;
  const top = 90;
  const left = 330;
  const plotW = W - left - 170;
  const H = top + rows.length * rowH + 60;
  const share = (r: Row) => (r.better === "lower" ? r.value / r.limit : r.limit / r.value);
  const max = Math.max(2, ...rows.map((r) => Math.min(share(r), 4)));
  const x = (v: number) => left + (Math.min(v, max) / max) * plotW;
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="20" y="30" font-size="18" font-weight="bold">Kiln vs raw baselines: share of each target used (≤ 1 meets it)</text>`,
    `<text x="20" y="52" font-size="12" fill="#555">${esc(`${results.machine.cpuModel}, ${results.machine.cores} cores, ${results.machine.memoryGiB} GiB, Node ${results.machine.node}, load ${results.machine.loadAverageAtStart.map((l) => l.toFixed(2)).join(" ")} — ${results.startedAt}${results.quick ? " (quick)" : ""}`)}</text>`,
  ];
  for (let v = 0; v <= max + 1e-9; v += 0.5) {
    parts.push(`<line x1="${x(v)}" y1="${top - 6}" x2="${x(v)}" y2="${top + rows.length * rowH}" stroke="#eee"/>`);
    parts.push(`<text x="${x(v)}" y="${top + rows.length * rowH + 18}" font-size="11" text-anchor="middle" fill="#555">${v.toFixed(1)}</text>`);
  }
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    const s = share(r);
    parts.push(`<text x="${left - 10}" y="${y + 17}" font-size="13" text-anchor="end">${esc(`${r.id}. ${r.figure}`)}</text>`);
    parts.push(`<text x="${left - 10}" y="${y + 33}" font-size="11" text-anchor="end" fill="#666">${esc(`${r.valueLabel}; target ${r.target}`)}</text>`);
    parts.push(`<rect x="${left}" y="${y + 8}" width="${Math.max(1, x(s) - left)}" height="24" fill="${r.met ? "#3a9d5d" : "#d9534f"}"/>`);
    parts.push(`<text x="${x(s) + 6}" y="${y + 25}" font-size="12">${esc(`${s.toFixed(2)}${s > max ? " (clipped)" : ""}`)}</text>`);
  });
  parts.push(`<line x1="${x(1)}" y1="${top - 10}" x2="${x(1)}" y2="${top + rows.length * rowH}" stroke="black" stroke-width="2" stroke-dasharray="6 4"/>`);
  parts.push(`<text x="${x(1)}" y="${top - 14}" font-size="11" text-anchor="middle">target</text>`);
  parts.push(`<text x="20" y="${H - 14}" font-size="11" fill="#555">${esc("Bar = figure ÷ target for \"≤\" targets, target ÷ figure for \"≥\" targets (so 1 = exactly on target). Ratios vs each raw baseline are in latest.json.")}</text>`);
  parts.push(`</svg>`);
  return parts.join("\n");
}

export async function writeResults(results: Results, dir: string): Promise<{ json: string; png: string | null; svg: string }> {
  await mkdir(dir, { recursive: true });
  const json = join(dir, "latest.json");
  await writeFile(json, JSON.stringify(results, (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? null : v), 2) + "\n");
  const chart = svg(results);
  const svgPath = join(dir, "latest.svg");
  await writeFile(svgPath, chart);
  let png: string | null = join(dir, "latest.png");
  try {
    const { Resvg } = await import("@resvg/resvg-js");
    const fontDir = "/usr/share/fonts/truetype/dejavu";
    const fontFiles = ["DejaVuSans.ttf", "DejaVuSans-Bold.ttf"].map((f) => join(fontDir, f)).filter((f) => existsSync(f));
    const image = new Resvg(chart, { background: "white", font: { fontFiles, loadSystemFonts: true, defaultFontFamily: "DejaVu Sans" } }).render();
    await writeFile(png, image.asPng());
  } catch (error) {
    console.error(`bench: could not render the PNG (${(error as Error).message}); the SVG is at ${svgPath}`);
    png = null;
  }
  return { json, png, svg: svgPath };
}
