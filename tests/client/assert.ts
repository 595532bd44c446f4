// Assertions the client suites share.

import assert from "node:assert/strict";
import { KilnError, type RunEvent } from "../../src/client/index.ts";

/** Asserts the promise rejects with a KilnError of this status and problem name; returns it. */
export async function rejectsWith(promise: Promise<unknown>, status: number, problem: string, msg?: RegExp): Promise<KilnError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof KilnError, `not a KilnError: ${error}`);
    assert.equal(error.status, status, error.message);
    assert.equal(error.problem, problem, error.message);
    if (msg) assert.match(error.msg ?? "", msg);
    return error;
  }
  assert.fail(`expected a ${status} ${problem}`);
}

/** Every event of a run, read to its end. */
export async function eventsOf(events: AsyncIterable<RunEvent>): Promise<RunEvent[]> {
  const all: RunEvent[] = [];
  for await (const event of events) all.push(event);
  return all;
}

/** The stdout of a run, read to its end. */
export async function stdoutOf(events: AsyncIterable<RunEvent>): Promise<string> {
  return (await eventsOf(events)).map((e) => (e.type === "stdout" ? e.text : "")).join("");
}
