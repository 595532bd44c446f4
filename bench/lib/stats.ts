// Timing helpers: samples → median / p99, and a loop that times a body many times.

export interface Measure {
  /** What was measured, e.g. "HTTP query 1+1". */
  label: string;
  unit: string;
  median: number;
  p99: number;
  n: number;
}

export function summarize(label: string, unit: string, samples: number[]): Measure {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN;
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { label, unit, median, p99: at(0.99), n: sorted.length };
}

export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Times `body` n times after `warmup` untimed rounds; `prepare` runs untimed before each round. */
export async function time(
  label: string,
  n: number,
  body: (i: number) => Promise<unknown>,
  options: { warmup?: number; prepare?: (i: number) => Promise<unknown> } = {},
): Promise<Measure> {
  const samples: number[] = [];
  const warmup = options.warmup ?? Math.min(5, Math.max(1, Math.floor(n / 10)));
  for (let i = 0; i < warmup + n; i++) {
    await options.prepare?.(i);
    const started = nowMs();
    await body(i);
    if (i >= warmup) samples.push(nowMs() - started);
  }
  return summarize(label, "ms", samples);
}

/** Runs kiln and baseline rounds interleaved (ABAB…) so drifting load hits both alike. */
export async function timePair(
  n: number,
  a: { label: string; body: () => Promise<unknown>; prepare?: () => Promise<unknown> },
  b: { label: string; body: () => Promise<unknown>; prepare?: () => Promise<unknown> },
  warmup = Math.min(5, Math.max(1, Math.floor(n / 10))),
): Promise<[Measure, Measure]> {
  const sa: number[] = [];
  const sb: number[] = [];
  for (let i = 0; i < warmup + n; i++) {
    for (const [side, samples] of [[a, sa], [b, sb]] as const) {
      await side.prepare?.();
      const started = nowMs();
      await side.body();
      if (i >= warmup) samples.push(nowMs() - started);
    }
  }
  return [summarize(a.label, "ms", sa), summarize(b.label, "ms", sb)];
}
