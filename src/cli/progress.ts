// A progress bar on stderr for uploads and downloads: drawn only on a terminal and
// only once the transfer has taken a second, so quick transfers and pipes stay quiet;
// redrawn at most ten times a second and wiped when the transfer ends.

import type { Progress } from "../client/index.ts";

export interface Terminal {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

export interface ProgressBar {
  update(progress: Progress): void;
  /** Wipes the bar, if one was drawn. */
  done(): void;
}

const SHOW_AFTER_MS = 1000;
const REDRAW_MS = 100;

export function progressBar(label: string, terminal: Terminal = process.stderr, now: () => number = Date.now): ProgressBar {
  if (!terminal.isTTY) return { update() {}, done() {} };
  const started = now();
  let drawnAt = -Infinity;
  let drawn = false;
  let last: Progress = { loaded: 0, total: null };
  const draw = () => {
    drawnAt = now();
    drawn = true;
    terminal.write(`\r\x1b[K${render(label, last, terminal.columns ?? 80)}`);
  };
  // A transfer that stalls before its first second is still shown once the second has passed.
  const timer = setTimeout(draw, SHOW_AFTER_MS);
  (timer as { unref?: () => void }).unref?.();
  return {
    update(progress) {
      last = progress;
      const at = now();
      if (at - started >= SHOW_AFTER_MS && at - drawnAt >= REDRAW_MS) draw();
    },
    done() {
      clearTimeout(timer);
      if (drawn) terminal.write("\r\x1b[K");
    },
  };
}

/** "upload [########--------]  52%  1.3 MiB / 2.5 MiB", or without a total "download  1.3 MiB". */
export function render(label: string, { loaded, total }: Progress, columns: number): string {
  if (total === null || total <= 0) return `${label}  ${size(loaded)}`;
  const fraction = Math.min(1, loaded / total);
  const tail = ` ${`${Math.floor(fraction * 100)}%`.padStart(4)}  ${size(loaded)} / ${size(total)}`;
  const width = Math.max(10, Math.min(40, columns - label.length - tail.length - 4));
  const filled = Math.round(fraction * width);
  return `${label} [${"#".repeat(filled)}${"-".repeat(width - filled)}]${tail}`;
}

export function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}
