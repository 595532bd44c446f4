// The event loop's state inside the isolate. The host drives it: after every
// call into the isolate it asks tick() for the next due timer, sleeps on its
// own clock, and calls tick() again. One callback runs per tick, so promise
// jobs run between timers as in Node (the host call's end drains them).

export class ExitSignal {
  constructor(readonly code: number) {}
}

interface Timer {
  id: number;
  due: number;
  seq: number;
  interval: number | null;
  fn: (...args: unknown[]) => void;
  args: unknown[];
  ref: boolean;
  immediate: boolean;
  /** The Timeout object: `this` of the callback, as in Node. */
  handle: Timeout | null;
}

const timers = new Map<number, Timer>();
let nextId = 1;
let seq = 0;

/** Set by process.exit(); the run ends after the current callback. */
export const state = { exiting: null as number | null, exitCode: 0, uncaught: 0 };

export class Timeout {
  constructor(readonly _id: number) {}
  ref(): this {
    const t = timers.get(this._id);
    if (t) t.ref = true;
    return this;
  }
  unref(): this {
    const t = timers.get(this._id);
    if (t) t.ref = false;
    return this;
  }
  hasRef(): boolean {
    return timers.get(this._id)?.ref ?? false;
  }
  refresh(): this {
    const t = timers.get(this._id);
    if (t) {
      t.due = Date.now() + (t.interval ?? 0);
      t.seq = seq++;
    }
    return this;
  }
  close(): this {
    timers.delete(this._id);
    return this;
  }
  [Symbol.toPrimitive](): number {
    return this._id;
  }
}

export class Immediate extends Timeout {}

function schedule(fn: unknown, delay: unknown, args: unknown[], interval: boolean, immediate: boolean): number {
  if (typeof fn !== "function") {
    const err = new TypeError(`The "callback" argument must be of type function. Received ${typeof fn}`) as TypeError & { code: string };
    err.code = "ERR_INVALID_ARG_TYPE";
    throw err;
  }
  let ms = Number(delay);
  if (!(ms >= 1 && ms <= 2 ** 31 - 1)) ms = immediate ? 0 : 1;
  const id = nextId++;
  timers.set(id, { id, due: Date.now() + ms, seq: seq++, interval: interval ? ms : null, fn: fn as Timer["fn"], args, ref: true, immediate, handle: null });
  return id;
}

function handleOf<T extends Timeout>(id: number, handle: T): T {
  const t = timers.get(id);
  if (t) t.handle = handle;
  return handle;
}

export function setTimeout(fn: unknown, delay?: unknown, ...args: unknown[]): Timeout {
  const id = schedule(fn, delay, args, false, false);
  return handleOf(id, new Timeout(id));
}

export function setInterval(fn: unknown, delay?: unknown, ...args: unknown[]): Timeout {
  const id = schedule(fn, delay, args, true, false);
  return handleOf(id, new Timeout(id));
}

export function setImmediate(fn: unknown, ...args: unknown[]): Immediate {
  const id = schedule(fn, 0, args, false, true);
  return handleOf(id, new Immediate(id));
}

export function clearTimer(handle: unknown): void {
  if (handle instanceof Timeout) timers.delete(handle._id);
  else if (typeof handle === "number" || typeof handle === "string") timers.delete(Number(handle));
}

/** Drops every timer: a finished run leaves nothing behind to fire later. */
export function clearAllTimers(): void {
  timers.clear();
}

function earliest(): Timer | null {
  let best: Timer | null = null;
  for (const t of timers.values()) {
    if (!best || (t.immediate && !best.immediate) || (t.immediate === best.immediate && (t.due < best.due || (t.due === best.due && t.seq < best.seq)))) best = t;
  }
  return best;
}

function hasRefed(): boolean {
  for (const t of timers.values()) if (t.ref) return true;
  return false;
}

/**
 * Runs at most one due callback. `next` is the ms until the next timer is due,
 * or -1 when no referenced timer keeps the loop alive.
 */
export function runOne(now: number, onError: (error: unknown) => void): { ran: boolean; next: number } {
  const t = earliest();
  const ran = !!t && (t.immediate || t.due <= now);
  if (t && ran) {
    if (t.interval === null) timers.delete(t.id);
    else {
      t.due = Math.max(now, t.due) + t.interval;
      t.seq = seq++;
    }
    try {
      Reflect.apply(t.fn, t.handle, t.args);
    } catch (error) {
      onError(error);
    }
  }
  return { ran, next: nextDue() };
}

/** ms until the next timer is due, or -1 when no referenced timer keeps the loop alive. */
export function nextDue(): number {
  if (!hasRefed()) return -1;
  const next = earliest();
  return next ? (next.immediate ? 0 : Math.max(0, next.due - Date.now())) : -1;
}
