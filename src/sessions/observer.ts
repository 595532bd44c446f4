// What the session layer reports as runs progress, to whoever watches (metrics).
// The sessions layer only calls it: it knows nothing of HTTP or Prometheus.

import type { BatchStep } from "../kernels/kernel.ts";

/** A batch step, or "query" for a query run's one step. */
export type StepName = BatchStep | "query";

/** How a run ended: its own end, its time limit, or stopped (interrupt, restart, destroy). */
export type RunOutcome = "finished" | "exec-timeout" | "interrupted";

export interface RunObserver {
  /** A step that ran (skipped steps are not reported) ended after `seconds` of wall-clock time, input waits included. */
  stepEnded(image: string, step: StepName, seconds: number): void;
  /** A run ended, `seconds` after it started executing (time queued behind other runs not included). */
  runEnded(image: string, outcome: RunOutcome, seconds: number): void;
}
