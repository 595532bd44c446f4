// Reads Prometheus' text format for the metrics suites: a strict parser (every
// line a HELP, a TYPE or a sample of a family declared before it, labels
// unescaped) and look-ups by exact label set.

import assert from "node:assert/strict";
import type { Client } from "../helpers/client.ts";

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  help: string;
  type: string;
  samples: Sample[];
}

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const LABEL = '([a-zA-Z_]\\w*)="((?:[^"\\\\\\n]|\\\\[\\\\"n])*)"';
const VALUE = "(-?\\d+(?:\\.\\d+)?(?:e[+-]?\\d+)?|[+-]Inf|NaN)";
const HELP_LINE = new RegExp(`^# HELP (${NAME}) (.*)$`);
const TYPE_LINE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram)$`);
const SAMPLE_LINE = new RegExp(`^(${NAME})(\\{${LABEL}(?:,${LABEL})*\\})? ${VALUE}$`);

/** Parses the exposition, asserting its grammar and the histogram rules (cumulative buckets, +Inf = count). */
export function parseExposition(text: string): Map<string, Family> {
  assert.ok(text.endsWith("\n"), "the exposition ends with a line feed");
  const families = new Map<string, Family>();
  let help = null as { name: string; text: string } | null;
  for (const line of text.slice(0, -1).split("\n")) {
    const h = HELP_LINE.exec(line);
    const t = TYPE_LINE.exec(line);
    const s = SAMPLE_LINE.exec(line);
    if (h) {
      help = { name: h[1]!, text: h[2]!.replace(/\\(\\|n)/g, (_, c: string) => (c === "n" ? "\n" : "\\")) };
    } else if (t) {
      assert.equal(help?.name, t[1], `TYPE of ${t[1]} must follow its HELP`);
      assert.ok(!families.has(t[1]!), `${t[1]} declared twice`);
      families.set(t[1]!, { name: t[1]!, help: help!.text, type: t[2]!, samples: [] });
    } else {
      assert.ok(s, `not a line of the text format: ${JSON.stringify(line)}`);
      const name = s[1]!;
      const family = families.get(name) ?? families.get(name.replace(/_(bucket|sum|count)$/, ""));
      assert.ok(family, `${name} has no TYPE before it`);
      if (family.name !== name) assert.equal(family.type, "histogram", `${name} is a histogram's series`);
      const labels: Record<string, string> = {};
      for (const [, key, value] of (s[2] ?? "").matchAll(new RegExp(LABEL, "g"))) {
        assert.ok(!(key! in labels), `label ${key} twice in ${line}`);
        labels[key!] = value!.replace(/\\(\\|"|n)/g, (_, c: string) => (c === "n" ? "\n" : c));
      }
      family.samples.push({ name, labels, value: Number(s[s.length - 1]!.replace("Inf", "Infinity")) });
    }
  }
  for (const family of families.values()) if (family.type === "histogram") assertHistogram(family);
  return families;
}

function assertHistogram(family: Family): void {
  const series = new Map<string, Sample[]>();
  for (const sample of family.samples.filter((s) => s.name === `${family.name}_bucket`)) {
    const { le, ...rest } = sample.labels;
    assert.ok(le !== undefined, `${family.name}_bucket without le`);
    const key = JSON.stringify(rest);
    series.set(key, [...(series.get(key) ?? []), sample]);
  }
  for (const [key, buckets] of series) {
    const counts = buckets.map((b) => b.value);
    assert.deepEqual([...counts].sort((a, b) => a - b), counts, `${family.name}${key} buckets are cumulative`);
    assert.equal(buckets.at(-1)!.labels.le, "+Inf", `${family.name}${key} ends with le="+Inf"`);
    const count = family.samples.find((s) => s.name === `${family.name}_count` && JSON.stringify(s.labels) === key);
    assert.equal(buckets.at(-1)!.value, count?.value, `${family.name}${key}: le="+Inf" equals _count`);
  }
}

export class Scrape {
  readonly families: Map<string, Family>;

  constructor(readonly text: string) {
    this.families = parseExposition(text);
  }

  family(name: string): Family {
    const family = this.families.get(name);
    assert.ok(family, `no metric ${name}`);
    return family;
  }

  /** The value of the sample with exactly these labels; 0 when it has none yet. */
  value(name: string, labels: Record<string, string> = {}, sampleName = name): number {
    const family = this.family(name);
    const wanted = JSON.stringify(Object.entries(labels).sort());
    const sample = family.samples.find((s) => s.name === sampleName && JSON.stringify(Object.entries(s.labels).sort()) === wanted);
    return sample?.value ?? 0;
  }

  /** A histogram series' count of observations and their sum; 0 when it has none yet. */
  histogram(name: string, labels: Record<string, string>): { count: number; sum: number } {
    return { count: this.value(name, labels, `${name}_count`), sum: this.value(name, labels, `${name}_sum`) };
  }
}

/** GET /metrics, parsed. */
export async function scrape(client: Client, headers?: Record<string, string>): Promise<Scrape> {
  const res = await client.get("/metrics", headers ? { headers } : {});
  assert.equal(res.status, 200, res.text);
  assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  return new Scrape(res.text);
}
