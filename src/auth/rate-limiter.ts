// Requests per rolling window per client, as sliding window counters: each
// client keeps the count of the current fixed window and of the one before,
// and the rolling count weighs the previous one by how much of it still
// overlaps the last windowMs. O(1) memory per client; idle clients expire.

export interface RateDecision {
  allowed: boolean;
  limit: number;
  /** Requests left in the rolling window after this one. */
  remaining: number;
  /** When refused: how long until one more request would pass. */
  retryAfterMs: number;
}

interface Counter {
  /** Index of the fixed window `current` counts. */
  window: number;
  current: number;
  previous: number;
}

export interface RateLimiterOptions {
  windowMs: number;
  /** The clock; injectable so tests can roll the window. */
  now?: () => number;
  /** Clients tracked at most; past it the least recently seen is forgotten. */
  maxClients?: number;
}

export class RateLimiter {
  readonly windowMs: number;
  private readonly now: () => number;
  private readonly maxClients: number;
  /** Least recently seen first: expired counters are always at the front. */
  private readonly counters = new Map<string, Counter>();

  constructor(options: RateLimiterOptions) {
    this.windowMs = options.windowMs;
    this.now = options.now ?? Date.now;
    this.maxClients = options.maxClients ?? 100_000;
  }

  get tracked(): number {
    return this.counters.size;
  }

  /** Counts a request of `client` if it is within `limit`; a refused request is not counted. */
  take(client: string, limit: number): RateDecision {
    const now = this.now();
    const window = Math.floor(now / this.windowMs);
    this.expire(window);
    const counter = this.roll(this.counters.get(client), window);
    this.counters.delete(client);
    this.counters.set(client, counter);
    if (this.counters.size > this.maxClients) this.counters.delete(this.counters.keys().next().value!);

    const elapsed = now - window * this.windowMs;
    const rolling = (counter.previous * (this.windowMs - elapsed)) / this.windowMs + counter.current;
    if (rolling + 1 > limit) return { allowed: false, limit, remaining: 0, retryAfterMs: this.retryAfter(counter, limit, elapsed) };
    counter.current++;
    return { allowed: true, limit, remaining: Math.max(0, Math.floor(limit - rolling - 1)), retryAfterMs: 0 };
  }

  private roll(counter: Counter | undefined, window: number): Counter {
    if (!counter || counter.window < window - 1) return { window, current: 0, previous: 0 };
    if (counter.window === window - 1) return { window, current: 0, previous: counter.current };
    return counter;
  }

  /** Counters two windows old count nothing any more. */
  private expire(window: number): void {
    for (const [client, counter] of this.counters) {
      if (counter.window >= window - 1) break;
      this.counters.delete(client);
    }
  }

  /** The wait until previous·(1 − t/W) + current + 1 ≤ limit, in this window or the next. */
  private retryAfter({ previous, current }: Counter, limit: number, elapsed: number): number {
    const W = this.windowMs;
    if (current + 1 <= limit) {
      // Only the previous window's share has to shrink; at the latest it is gone when this window ends.
      return Math.min((W * (previous - (limit - current - 1))) / previous, W) - elapsed;
    }
    // This window's own count is over: in the next one it becomes `previous` and shrinks.
    return W - elapsed + (W * (current - (limit - 1))) / current;
  }
}
