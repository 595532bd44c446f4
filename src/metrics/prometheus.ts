// A small metrics registry that renders Prometheus' text exposition format
// (version 0.0.4): counters, gauges read at scrape time, and histograms.
// Kiln's own rather than prom-client, which needs Node's cluster and perf_hooks:
// this one is plain JavaScript, so the app stays runtime-neutral.

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

type Labels<L extends string> = Readonly<Record<L, string>>;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

interface Metric {
  render(): string;
}

export class MetricRegistry {
  private readonly metrics = new Map<string, Metric>();

  counter<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return this.add(name, new Counter(name, help, labelNames));
  }

  /** A gauge whose series `collect` reads at each scrape. */
  gauge<L extends string = never>(name: string, help: string, labelNames: readonly L[], collect: () => Iterable<readonly [Labels<L>, number]>): void {
    this.add(name, new Gauge(name, help, labelNames, collect));
  }

  histogram<L extends string = never>(name: string, help: string, labelNames: readonly L[], buckets: readonly number[]): Histogram<L> {
    return this.add(name, new Histogram(name, help, labelNames, buckets));
  }

  /** Every metric in the text format, in registration order. */
  render(): string {
    return [...this.metrics.values()].map((m) => m.render()).join("");
  }

  private add<M extends Metric>(name: string, metric: M): M {
    if (this.metrics.has(name)) throw new Error(`metric ${name} is registered twice`);
    this.metrics.set(name, metric);
    return metric;
  }
}

/** Series by their label values, in label-name order. */
abstract class Family<L extends string, V> implements Metric {
  private readonly series = new Map<string, { labels: string; value: V }>();

  constructor(
    readonly name: string,
    private readonly help: string,
    private readonly type: "counter" | "gauge" | "histogram",
    private readonly labelNames: readonly L[],
  ) {
    if (!METRIC_NAME.test(name)) throw new Error(`invalid metric name ${name}`);
    for (const label of labelNames) {
      if (!LABEL_NAME.test(label) || label.startsWith("__") || label === "le") throw new Error(`invalid label name ${label} of ${name}`);
    }
  }

  render(): string {
    let text = `# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} ${this.type}\n`;
    for (const { labels, value } of this.current()) text += this.sample(labels, value);
    return text;
  }

  /** The series to render; a gauge reads them afresh. */
  protected current(): Iterable<{ labels: string; value: V }> {
    return this.series.values();
  }

  /** The text lines of one series; `labels` is its rendered label list without braces. */
  protected abstract sample(labels: string, value: V): string;

  protected entry(labels: Labels<L>, initial: () => V): { labels: string; value: V } {
    const values = this.labelNames.map((n) => labels[n]);
    const key = values.join("\u0000");
    let entry = this.series.get(key);
    if (!entry) {
      entry = { labels: this.labelList(labels), value: initial() };
      this.series.set(key, entry);
    }
    return entry;
  }

  protected labelList(labels: Labels<L>): string {
    return this.labelNames.map((n) => `${n}="${escapeLabel(labels[n])}"`).join(",");
  }
}

export class Counter<L extends string> extends Family<L, number> {
  constructor(name: string, help: string, labelNames: readonly L[]) {
    super(name, help, "counter", labelNames);
    // An unlabelled counter is 0 from the start rather than absent until its first increment.
    if (labelNames.length === 0) this.entry({} as Labels<L>, () => 0);
  }

  inc(labels: Labels<L>, by = 1): void {
    if (!(by >= 0)) throw new Error(`counter ${this.name} can only go up, not by ${by}`);
    this.entry(labels, () => 0).value += by;
  }

  protected sample(labels: string, value: number): string {
    return `${this.name}${braces(labels)} ${formatValue(value)}\n`;
  }
}

class Gauge<L extends string> extends Family<L, number> {
  constructor(
    name: string,
    help: string,
    labelNames: readonly L[],
    private readonly collect: () => Iterable<readonly [Labels<L>, number]>,
  ) {
    super(name, help, "gauge", labelNames);
  }

  protected override *current(): Iterable<{ labels: string; value: number }> {
    for (const [labels, value] of this.collect()) yield { labels: this.labelList(labels), value };
  }

  protected sample(labels: string, value: number): string {
    return `${this.name}${braces(labels)} ${formatValue(value)}\n`;
  }
}

interface Buckets {
  /** Observations per bucket, not yet cumulative. */
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram<L extends string> extends Family<L, Buckets> {
  private readonly bounds: readonly number[];

  constructor(name: string, help: string, labelNames: readonly L[], buckets: readonly number[]) {
    super(name, help, "histogram", labelNames);
    this.bounds = [...buckets].sort((a, b) => a - b);
  }

  observe(labels: Labels<L>, value: number): void {
    const series = this.entry(labels, () => ({ counts: this.bounds.map(() => 0), sum: 0, count: 0 })).value;
    const at = this.bounds.findIndex((bound) => value <= bound);
    if (at >= 0) series.counts[at]!++;
    series.sum += value;
    series.count++;
  }

  protected sample(labels: string, value: Buckets): string {
    const sep = labels === "" ? "" : ",";
    let text = "";
    let cumulative = 0;
    this.bounds.forEach((bound, i) => {
      cumulative += value.counts[i]!;
      text += `${this.name}_bucket{${labels}${sep}le="${formatValue(bound)}"} ${cumulative}\n`;
    });
    text += `${this.name}_bucket{${labels}${sep}le="+Inf"} ${value.count}\n`;
    text += `${this.name}_sum${braces(labels)} ${formatValue(value.sum)}\n`;
    text += `${this.name}_count${braces(labels)} ${value.count}\n`;
    return text;
  }
}

function braces(labels: string): string {
  return labels === "" ? "" : `{${labels}}`;
}

/** Label values escape backslash, double quote and line feed. */
function escapeLabel(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`));
}

/** HELP text escapes backslash and line feed. */
function escapeHelp(text: string): string {
  return text.replace(/[\\\n]/g, (c) => (c === "\n" ? "\\n" : "\\\\"));
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}
