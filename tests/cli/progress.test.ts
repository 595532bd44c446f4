// The CLI's progress bar: quiet off a terminal and during the first second, drawn
// after it (no more than ten times a second), wiped at the end. The clock is injected:
// nothing here waits.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { progressBar, render, size } from "../../src/cli/progress.ts";

function terminal(isTTY: boolean) {
  const writes: string[] = [];
  return { isTTY, columns: 80, writes, write: (text: string) => writes.push(text) };
}

describe("kiln progress bars", () => {
  it("stay quiet when stderr is not a terminal", () => {
    let now = 0;
    const out = terminal(false);
    const bar = progressBar("upload", out, () => now);
    now = 5000;
    bar.update({ loaded: 1, total: 2 });
    bar.done();
    assert.deepEqual(out.writes, []);
  });

  it("appear only after a second, redraw at most every 100 ms, and are wiped at the end", () => {
    let now = 0;
    const out = terminal(true);
    const bar = progressBar("upload", out, () => now);
    now = 999;
    bar.update({ loaded: 10, total: 100 });
    assert.deepEqual(out.writes, []);
    now = 1000;
    bar.update({ loaded: 50, total: 100 });
    now = 1050;
    bar.update({ loaded: 60, total: 100 });
    now = 1100;
    bar.update({ loaded: 100, total: 100 });
    bar.done();
    assert.equal(out.writes.length, 3);
    assert.match(out.writes[0]!, /^\r\x1b\[Kupload \[#+-+\]  50%  50 B \/ 100 B$/);
    assert.match(out.writes[1]!, /100%/);
    assert.equal(out.writes[2], "\r\x1b[K");
  });

  it("leave nothing behind for a quick transfer", () => {
    const out = terminal(true);
    const bar = progressBar("download", out, () => 0);
    bar.update({ loaded: 5, total: null });
    bar.done();
    assert.deepEqual(out.writes, []);
  });

  it("render sizes, and bytes alone when the total is unknown", () => {
    assert.equal(render("download", { loaded: 3 * 1024 * 1024, total: null }, 80), "download  3.0 MiB");
    assert.equal(size(1023), "1023 B");
    assert.equal(size(1536), "1.5 KiB");
    assert.equal(size(5 * 1024 ** 3), "5.0 GiB");
    const line = render("upload", { loaded: 1, total: 4 }, 40);
    assert.ok(line.length <= 60, line);
    assert.match(line, /\[#+-+\]  25%/);
  });
});
