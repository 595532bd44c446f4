// ConsoleBuffer: how a run's console items and control records queue up between
// deliveries — merging, ordering, stopping at control records, and the per-stream cap.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConsoleBuffer, type Control } from "../../src/sessions/console.ts";

const CLEAN: Control = { status: "clean-finished", exitCode: 0, options: null };
const BUILD: Control = { status: "build-finished", exitCode: 2, options: null };
const FINISHED: Control = { status: "finished", exitCode: 0, options: null };

function marker(n: number, stream: "stdout" | "stderr"): string {
  return `\n[kiln: output truncated: ${n} characters of ${stream} dropped]\n`;
}

describe("ConsoleBuffer: merging and order", () => {
  it("merges consecutive chunks of the same stream into one item", () => {
    const buf = new ConsoleBuffer(1000);
    buf.write("stdout", "a");
    buf.write("stdout", "b");
    buf.write("stdout", "c\n");
    assert.deepEqual(buf.take(), { console: [["stdout", "abc\n"]], control: null });
  });

  it("keeps the order across streams, one item per contiguous block", () => {
    const buf = new ConsoleBuffer(1000);
    buf.write("stdout", "1");
    buf.write("stdout", "2");
    buf.write("stderr", "e1");
    buf.write("stderr", "e2");
    buf.write("stdout", "3");
    assert.deepEqual(buf.take().console, [
      ["stdout", "12"],
      ["stderr", "e1e2"],
      ["stdout", "3"],
    ]);
  });

  it("keeps media and html items separate and in place; text never merges across them", () => {
    const buf = new ConsoleBuffer(1000);
    buf.write("stdout", "a");
    buf.emit(["html", "<b>x</b>"]);
    buf.emit(["html", "<i>y</i>"]);
    buf.write("stdout", "b");
    buf.emit(["media", ["image/svg+xml", "<svg/>"]]);
    buf.emit(["stdout", "c"]);
    buf.emit(["stdout", "d"]);
    assert.deepEqual(buf.take().console, [
      ["stdout", "a"],
      ["html", "<b>x</b>"],
      ["html", "<i>y</i>"],
      ["stdout", "b"],
      ["media", ["image/svg+xml", "<svg/>"]],
      ["stdout", "cd"],
    ]);
  });

  it("ignores empty text", () => {
    const buf = new ConsoleBuffer(1000);
    buf.write("stdout", "");
    buf.write("stderr", "");
    assert.deepEqual(buf.take(), { console: [], control: null });
  });

  it("an empty buffer gives an empty delivery, again and again", () => {
    const buf = new ConsoleBuffer(1000);
    assert.deepEqual(buf.take(), { console: [], control: null });
    assert.deepEqual(buf.take(), { console: [], control: null });
    assert.equal(buf.hasControl(), false);
  });
});

describe("ConsoleBuffer: control records", () => {
  it("take() stops at the first control record and leaves the rest for the next take", () => {
    const buf = new ConsoleBuffer(1000);
    buf.write("stdout", "cleaning\n");
    buf.control(CLEAN);
    buf.write("stderr", "build error\n");
    buf.control(BUILD);
    buf.write("stdout", "exec\n");
    buf.control(FINISHED);
    assert.equal(buf.hasControl(), true);

    assert.deepEqual(buf.take(), { console: [["stdout", "cleaning\n"]], control: CLEAN });
    assert.equal(buf.hasControl(), true);
    assert.deepEqual(buf.take(), { console: [["stderr", "build error\n"]], control: BUILD });
    assert.deepEqual(buf.take(), { console: [["stdout", "exec\n"]], control: FINISHED });
    assert.equal(buf.hasControl(), false);
    assert.deepEqual(buf.take(), { console: [], control: null });
  });

  it("output after a control record does not merge into output before it", () => {
    const buf = new ConsoleBuffer(1000);
    buf.write("stdout", "a");
    buf.control(CLEAN);
    buf.write("stdout", "b");
    assert.deepEqual(buf.take(), { console: [["stdout", "a"]], control: CLEAN });
    assert.deepEqual(buf.take(), { console: [["stdout", "b"]], control: null });
  });

  it("a control record with nothing before it is delivered with an empty console", () => {
    const buf = new ConsoleBuffer(1000);
    buf.control(CLEAN);
    buf.control(FINISHED);
    assert.deepEqual(buf.take(), { console: [], control: CLEAN });
    assert.deepEqual(buf.take(), { console: [], control: FINISHED });
  });

  it("hands control options through untouched", () => {
    const buf = new ConsoleBuffer(1000);
    const waiting: Control = { status: "waiting-input", exitCode: null, options: { is_password: true } };
    buf.write("stdout", "Password: ");
    buf.control(waiting);
    assert.deepEqual(buf.take(), { console: [["stdout", "Password: "]], control: waiting });
  });
});

describe("ConsoleBuffer: the per-stream cap", () => {
  it("keeps up to the cap, drops the rest and marks it in the last same-stream item", () => {
    const buf = new ConsoleBuffer(10);
    buf.write("stdout", "12345678");
    buf.write("stdout", "abcde"); // 2 fit, 3 dropped
    buf.write("stdout", "zzzz"); // all 4 dropped
    assert.deepEqual(buf.take().console, [["stdout", "12345678ab" + marker(7, "stdout")]]);
  });

  it("drops past the cap rather than buffering it: nothing of the dropped text comes later", () => {
    const buf = new ConsoleBuffer(10);
    buf.write("stdout", "x".repeat(25));
    const first = buf.take().console;
    assert.deepEqual(first, [["stdout", "x".repeat(10) + marker(15, "stdout")]]);
    assert.deepEqual(buf.take(), { console: [], control: null });
  });

  it("counts each stream on its own", () => {
    const buf = new ConsoleBuffer(10);
    buf.write("stdout", "o".repeat(12));
    buf.write("stderr", "e".repeat(10));
    buf.write("stdout", "o");
    buf.write("stderr", "E".repeat(4));
    // The delivery ends with stderr, so the stdout marker cannot merge and comes last as its own item.
    assert.deepEqual(buf.take().console, [
      ["stdout", "o".repeat(10)],
      ["stderr", "e".repeat(10)],
      ["stdout", marker(3, "stdout")],
      ["stderr", marker(4, "stderr")],
    ]);
  });

  it("adds the marker as its own item when the delivery does not end with that stream", () => {
    const buf = new ConsoleBuffer(10);
    buf.write("stdout", "o".repeat(15));
    buf.emit(["html", "<p/>"]);
    assert.deepEqual(buf.take().console, [
      ["stdout", "o".repeat(10)],
      ["html", "<p/>"],
      ["stdout", marker(5, "stdout")],
    ]);
  });

  it("the cap does not apply to media and html items", () => {
    const buf = new ConsoleBuffer(4);
    buf.emit(["html", "h".repeat(100)]);
    buf.emit(["media", ["text/plain", "m".repeat(100)]]);
    assert.deepEqual(buf.take().console, [
      ["html", "h".repeat(100)],
      ["media", ["text/plain", "m".repeat(100)]],
    ]);
  });

  it("pending counts go back down after delivery, so the next delivery can carry a full cap again", () => {
    const buf = new ConsoleBuffer(10);
    buf.write("stdout", "a".repeat(10));
    buf.write("stdout", "b"); // dropped
    assert.deepEqual(buf.take().console, [["stdout", "a".repeat(10) + marker(1, "stdout")]]);

    buf.write("stdout", "c".repeat(10));
    assert.deepEqual(buf.take().console, [["stdout", "c".repeat(10)]], "a full cap, and no stale marker");

    buf.write("stdout", "d".repeat(11));
    assert.deepEqual(buf.take().console, [["stdout", "d".repeat(10) + marker(1, "stdout")]], "the dropped count starts from zero");
  });

  it("output held behind a control record still counts against the cap until it is delivered", () => {
    const buf = new ConsoleBuffer(10);
    buf.write("stdout", "a".repeat(6));
    buf.control(CLEAN);
    buf.write("stdout", "b".repeat(6)); // 4 fit (6 pending before), 2 dropped
    const first = buf.take();
    assert.equal(first.control, CLEAN);
    assert.equal(first.console[0]![1].slice(0, 6), "aaaaaa");
    const second = buf.take();
    assert.equal(second.console.map((i) => i[1]).join("").replace(/\n\[kiln:[^\]]*\]\n/g, ""), "bbbb");
    // Both deliveries together report exactly the 2 dropped characters, once.
    const markers = [...first.console, ...second.console].map((i) => String(i[1]).match(/(\d+) characters of stdout dropped/)?.[1]).filter(Boolean);
    assert.deepEqual(markers, ["2"]);
    // ...and everything delivered frees the cap.
    buf.write("stdout", "c".repeat(10));
    assert.deepEqual(buf.take().console, [["stdout", "c".repeat(10)]]);
  });
});

describe("ConsoleBuffer: the cap and Unicode", () => {
  it("never cuts a surrogate pair at the cap", () => {
    const buf = new ConsoleBuffer(1024);
    buf.write("stdout", "x".repeat(1023) + "😀" + "tail");
    const [[stream, text]] = buf.take().console as [["stdout", string]];
    assert.equal(stream, "stdout");
    assert.ok(text.startsWith("x".repeat(1023) + "\n[kiln: output truncated: 6 characters"), text.slice(1000, 1080));
    assert.ok(!/[\ud800-\udbff](?![\udc00-\udfff])/.test(text), "a lone high surrogate");
  });
});
