// Kiln's metrics: what GET /metrics reports. Runs and steps arrive through the
// session layer's RunObserver, HTTP requests and transferred bytes from the API's
// middleware; sessions and queues are read from the live state at each scrape.

import type { RunObserver, RunOutcome, StepName } from "../sessions/observer.ts";
import { MetricRegistry } from "./prometheus.ts";

/** What the scrape-time gauges read. */
export interface LiveState {
  /** The images this server serves: each gets a sessions series, 0 when it has none. */
  images(): Iterable<string>;
  sessions(): Iterable<{ readonly init: { readonly image: string }; readonly queuedRuns: number }>;
  runSlots(): { running: number; waiting: number };
}

/** Seconds: a query of a few ms up to the default 60 s step limit and past it. */
const RUN_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
/** Seconds: from a fast JSON answer to an execute call held for the flush interval. */
const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class KilnMetrics implements RunObserver {
  private readonly registry = new MetricRegistry();
  private readonly runs = this.registry.counter("kiln_runs_total", "Runs that ended, by image and how: finished, exec-timeout or interrupted.", ["image", "status"]);
  private readonly runSeconds = this.registry.histogram(
    "kiln_run_duration_seconds",
    "Wall-clock seconds of each run from its start to its end, input waits included.",
    ["image"],
    RUN_BUCKETS,
  );
  private readonly stepSeconds = this.registry.histogram(
    "kiln_step_duration_seconds",
    "Wall-clock seconds of each step (query, clean, build, exec) that ran.",
    ["image", "step"],
    RUN_BUCKETS,
  );
  private readonly uploaded = this.registry.counter("kiln_upload_bytes_total", "Bytes of upload request bodies received.");
  private readonly downloaded = this.registry.counter("kiln_download_bytes_total", "Bytes of download and download_single answers sent.");
  private readonly requests = this.registry.counter("kiln_http_requests_total", "HTTP requests answered, by method, route pattern and status.", [
    "method",
    "route",
    "status",
  ]);
  private readonly requestSeconds = this.registry.histogram(
    "kiln_http_request_duration_seconds",
    "Seconds from a request's arrival to its answer's head, by method and route pattern.",
    ["method", "route"],
    HTTP_BUCKETS,
  );

  constructor(state: LiveState) {
    this.registry.gauge("kiln_sessions", "Live sessions by image.", ["image"], () => {
      const counts = new Map<string, number>();
      for (const image of state.images()) counts.set(image, 0);
      for (const session of state.sessions()) counts.set(session.init.image, (counts.get(session.init.image) ?? 0) + 1);
      return [...counts].map(([image, n]) => [{ image }, n] as const);
    });
    this.registry.gauge("kiln_run_queue_depth", "Runs waiting behind an earlier run of their session.", [], () => {
      let queued = 0;
      for (const session of state.sessions()) queued += session.queuedRuns;
      return [[{}, queued]];
    });
    this.registry.gauge("kiln_run_slots_running", "Runs holding a slot of the concurrent-run limiter (--max-runs).", [], () => [[{}, state.runSlots().running]]);
    this.registry.gauge("kiln_run_slots_waiting", "Runs waiting in the limiter's queue for a slot (--run-queue-size).", [], () => [[{}, state.runSlots().waiting]]);
  }

  stepEnded(image: string, step: StepName, seconds: number): void {
    this.stepSeconds.observe({ image, step }, seconds);
  }

  runEnded(image: string, outcome: RunOutcome, seconds: number): void {
    this.runs.inc({ image, status: outcome });
    this.runSeconds.observe({ image }, seconds);
  }

  request(method: string, route: string, status: number, seconds: number): void {
    this.requests.inc({ method, route, status: String(status) });
    this.requestSeconds.observe({ method, route }, seconds);
  }

  uploadBytes(bytes: number): void {
    this.uploaded.inc({}, bytes);
  }

  downloadBytes(bytes: number): void {
    this.downloaded.inc({}, bytes);
  }

  /** The text exposition format. */
  render(): string {
    return this.registry.render();
  }
}
