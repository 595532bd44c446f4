// What each figure returns and the context the runner hands it.

import type { Measure } from "./stats.ts";

export interface Row {
  /** "1a", "3", … */
  id: string;
  figure: string;
  kiln: Measure;
  baseline: Measure;
  /** Other baselines measured alongside (e.g. podman exec, bwrap). */
  others?: Measure[];
  /** kiln ÷ baseline on the medians (for throughput: kiln req/s ÷ bare req/s). */
  ratio: number;
  /** The quantity the target is about, its limit, and which side is good. */
  value: number;
  valueLabel: string;
  limit: number;
  better: "lower" | "higher";
  target: string;
  met: boolean;
  notes?: string[];
}

export type FigureResult = { rows: Row[]; notes?: string[] } | { skipped: string };

export interface Ctx {
  quick: boolean;
  /** Scratch directory for this run. */
  tmp: string;
  /** null when the podman figures can run, else why not. */
  podmanUnavailable: string | null;
  log(message: string): void;
}

export function row(r: Omit<Row, "met">): Row {
  return { ...r, met: r.better === "lower" ? r.value <= r.limit : r.value >= r.limit };
}
