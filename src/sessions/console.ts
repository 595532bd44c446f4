// The console items of one run waiting to be delivered, and its control records,
// in order. Consecutive stdout (or stderr) chunks merge into one item, as
// Backend.AI's agent merges them. Undelivered stdout and stderr are capped per
// stream: past the cap, output is dropped (not buffered: a flood must not grow
// memory) and the next delivery ends with a marker saying how much was lost.
// Rich items (media, html, log) are not cut by that cap, a plot being useless in
// pieces, but they are bounded too: whole items past RICH_MAX_* are dropped and marked.

import type { ConsoleItem } from "../kernels/kernel.ts";

/** Undelivered rich items at most, and their characters (a few large images fit). */
const RICH_MAX_ITEMS = 1000;
const RICH_MAX_CHARS = 16 * 1024 * 1024;

export type ControlStatus = "clean-finished" | "build-finished" | "finished" | "waiting-input" | "exec-timeout";

export interface Control {
  status: ControlStatus;
  exitCode: number | null;
  options: Record<string, unknown> | null;
}

type Entry = { item: ConsoleItem } | { control: Control };

export interface Delivery {
  console: ConsoleItem[];
  /** The control record that ended this delivery, if one was reached. */
  control: Control | null;
}

export class ConsoleBuffer {
  private entries: Entry[] = [];
  private pending = { stdout: 0, stderr: 0 };
  private dropped = { stdout: 0, stderr: 0 };
  private rich = { items: 0, chars: 0, dropped: 0 };

  constructor(private readonly capChars: number) {}

  write(stream: "stdout" | "stderr", text: string): void {
    if (text === "") return;
    const room = this.capChars - this.pending[stream];
    if (room <= 0) {
      this.dropped[stream] += text.length;
      return;
    }
    if (text.length > room) {
      // Never cut a surrogate pair in half: the client would get a lone surrogate.
      const keep = isHighSurrogate(text.charCodeAt(room - 1)) ? room - 1 : room;
      this.dropped[stream] += text.length - keep;
      text = text.slice(0, keep);
      if (text === "") return;
    }
    this.pending[stream] += text.length;
    const last = this.entries[this.entries.length - 1];
    if (last && "item" in last && last.item[0] === stream) {
      last.item = [stream, (last.item[1] as string) + text];
    } else {
      this.entries.push({ item: [stream, text] });
    }
  }

  emit(item: ConsoleItem): void {
    if (item[0] === "stdout" || item[0] === "stderr") return this.write(item[0], item[1]);
    if (this.rich.items >= RICH_MAX_ITEMS || this.rich.chars >= RICH_MAX_CHARS) {
      this.rich.dropped++;
      return;
    }
    this.rich.items++;
    this.rich.chars += richChars(item);
    this.entries.push({ item });
  }

  control(control: Control): void {
    this.entries.push({ control });
  }

  hasControl(): boolean {
    return this.entries.some((e) => "control" in e);
  }

  /** Takes everything up to and including the first control record (or everything, if none). */
  take(): Delivery {
    const out: ConsoleItem[] = [];
    let control: Control | null = null;
    let i = 0;
    for (; i < this.entries.length; i++) {
      const entry = this.entries[i]!;
      if ("control" in entry) {
        control = entry.control;
        i++;
        break;
      }
      out.push(entry.item);
      if (entry.item[0] === "stdout" || entry.item[0] === "stderr") {
        this.pending[entry.item[0]] -= entry.item[1].length;
      } else {
        this.rich.items--;
        this.rich.chars -= richChars(entry.item);
      }
    }
    this.entries = this.entries.slice(i);
    for (const stream of ["stdout", "stderr"] as const) {
      if (this.dropped[stream] > 0) {
        const marker = `\n[kiln: output truncated: ${this.dropped[stream]} characters of ${stream} dropped]\n`;
        const last = out[out.length - 1];
        if (last && last[0] === stream) out[out.length - 1] = [stream, last[1] + marker];
        else out.push([stream, marker]);
        this.dropped[stream] = 0;
      }
    }
    if (this.rich.dropped > 0) {
      out.push(["stderr", `\n[kiln: output truncated: ${this.rich.dropped} media, html or log items dropped]\n`]);
      this.rich.dropped = 0;
    }
    return { console: out, control };
  }
}

/** Characters of a media, html or log item. */
function richChars(item: ConsoleItem): number {
  const data = item[1];
  return typeof data === "string" ? data.length : data.reduce((n, part) => n + part.length, 0);
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
