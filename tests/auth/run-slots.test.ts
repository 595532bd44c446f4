// The concurrent-run caps: server-wide and per client, a bounded queue that
// refuses with 503 when full, turns between waiting clients, abort and close.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { toProblem } from "../../src/api/errors.ts";
import { RunSlots, type Release } from "../../src/auth/run-slots.ts";
import { SessionError } from "../../src/sessions/errors.ts";

/** Lets settled promises run their callbacks. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

/** Asks for a slot and records, in `order`, when it is granted. */
function ask(slots: RunSlots, client: string, order: string[], label = client, signal?: AbortSignal): Promise<Release> {
  const granted = slots.acquire(client, signal);
  granted.then(() => order.push(label), () => undefined);
  return granted;
}

describe("run slots", () => {
  it("grant at once under both caps, and make a client over its own cap wait", async () => {
    const slots = new RunSlots({ total: 4, perClient: 2, queue: 10 });
    const order: string[] = [];
    const a1 = await ask(slots, "a", order, "a1");
    await ask(slots, "a", order, "a2");
    const a3 = ask(slots, "a", order, "a3");
    await ask(slots, "b", order, "b1");
    await settle();
    assert.deepEqual(order, ["a1", "a2", "b1"]);
    assert.deepEqual(slots.stats, { running: 3, waiting: 1 });
    a1();
    a1(); // twice is once
    await a3;
    assert.deepEqual(order, ["a1", "a2", "b1", "a3"]);
    assert.deepEqual(slots.stats, { running: 3, waiting: 0 });
  });

  it("hold runs past the server-wide cap until a slot frees", async () => {
    const slots = new RunSlots({ total: 2, perClient: 2, queue: 10 });
    const order: string[] = [];
    const a = await ask(slots, "a", order);
    await ask(slots, "b", order);
    const c = ask(slots, "c", order);
    await settle();
    assert.deepEqual(order, ["a", "b"]);
    a();
    await c;
    assert.deepEqual(order, ["a", "b", "c"]);
  });

  it("take turns between waiting clients: one client's backlog does not starve another", async () => {
    const slots = new RunSlots({ total: 1, perClient: 1, queue: 10 });
    const order: string[] = [];
    const granted = new Map<string, Promise<Release>>([["first", ask(slots, "first", order)]]);
    for (const [client, label] of [["a", "a1"], ["a", "a2"], ["a", "a3"], ["b", "b1"]] as const) granted.set(label, ask(slots, client, order, label));
    // Each run ends in turn; the next one granted ends next.
    for (let i = 0; i < 4; i++) {
      await settle();
      (await granted.get(order.at(-1)!)!)();
    }
    await settle();
    assert.deepEqual(order, ["first", "a1", "b1", "a2", "a3"]);
  });

  it("let a client under its cap past waiting clients that are at theirs", async () => {
    const slots = new RunSlots({ total: 3, perClient: 1, queue: 10 });
    const order: string[] = [];
    await ask(slots, "a", order, "a1");
    void ask(slots, "a", order, "a2");
    await ask(slots, "b", order, "b1");
    await settle();
    assert.deepEqual(order, ["a1", "b1"]);
  });

  it("refuse at once when the queue is full: too-many-runs, which the API answers with 503", async () => {
    const slots = new RunSlots({ total: 1, perClient: 1, queue: 2 });
    await slots.acquire("a");
    void slots.acquire("b");
    void slots.acquire("c");
    const refused = await slots.acquire("d").then(
      () => assert.fail("granted"),
      (error: unknown) => error,
    );
    assert.ok(refused instanceof SessionError && refused.code === "too-many-runs");
    assert.equal(toProblem(refused).status, 503);
    assert.equal(toProblem(refused).problem, "service-unavailable");
    const none = new RunSlots({ total: 1, perClient: 1, queue: 0 });
    await none.acquire("a");
    await assert.rejects(none.acquire("b"), SessionError);
  });

  it("drop a waiting run whose request is aborted, freeing its place in the queue", async () => {
    const slots = new RunSlots({ total: 1, perClient: 1, queue: 1 });
    const order: string[] = [];
    const held = await ask(slots, "a", order);
    const controller = new AbortController();
    const gone = ask(slots, "b", order, "b", controller.signal);
    controller.abort(new Error("client went away"));
    await assert.rejects(gone, /client went away/);
    assert.deepEqual(slots.stats, { running: 1, waiting: 0 });
    const next = ask(slots, "c", order);
    held();
    await next;
    assert.deepEqual(order, ["a", "c"]);
    await assert.rejects(slots.acquire("d", AbortSignal.abort(new Error("already aborted"))), /already aborted/);
  });

  it("refuse every waiting run on close, leaving running ones their slots", async () => {
    const slots = new RunSlots({ total: 1, perClient: 1, queue: 5 });
    const running = await slots.acquire("a");
    const waiting = [slots.acquire("b"), slots.acquire("c")];
    slots.close();
    for (const w of waiting) await assert.rejects(w, /shutting down/);
    assert.deepEqual(slots.stats, { running: 1, waiting: 0 });
    running();
    assert.deepEqual(slots.stats, { running: 0, waiting: 0 });
  });
});
