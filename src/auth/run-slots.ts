// Caps on runs executing at once: server-wide and per client (access key, or
// client address without authentication). A run over a cap waits in a bounded
// queue; a full queue refuses at once (SessionError too-many-runs → 503).
// Waiting clients take freed slots in turn, so one client's backlog does not
// starve another's first run.

import { SessionError } from "../sessions/errors.ts";

export interface RunSlotLimits {
  /** Runs executing at once, server-wide. */
  total: number;
  /** Runs executing at once per client. */
  perClient: number;
  /** Runs waiting for a slot at most, server-wide; 0: none wait. */
  queue: number;
}

/** Gives the slot back; calling it again does nothing. */
export type Release = () => void;

interface Waiter {
  grant: (release: Release) => void;
  fail: (error: unknown) => void;
}

export class RunSlots {
  private running = 0;
  private waiting = 0;
  private readonly runningBy = new Map<string, number>();
  /** Clients with waiting runs, in turn order: the one served last goes to the back. */
  private readonly queues = new Map<string, Waiter[]>();

  constructor(readonly limits: RunSlotLimits) {}

  get stats(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting };
  }

  /** Resolves with the release once the run may start; rejects if the queue is full or `signal` aborts first. */
  acquire(client: string, signal?: AbortSignal): Promise<Release> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    // A free slot goes to whoever asks: any client still waiting is at its own cap (see dispatch).
    if (this.running < this.limits.total && this.runningOf(client) < this.limits.perClient) return Promise.resolve(this.take(client));
    if (this.waiting >= this.limits.queue) {
      return Promise.reject(
        new SessionError("too-many-runs", `The server is running ${this.running} runs and ${this.waiting} more wait for a slot, its limit; try again later.`),
      );
    }
    return new Promise<Release>((resolve, reject) => {
      const waiter: Waiter = {
        grant: (release) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(release);
        },
        fail: reject,
      };
      const onAbort = () => {
        this.remove(client, waiter);
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      const queue = this.queues.get(client) ?? [];
      queue.push(waiter);
      this.queues.set(client, queue);
      this.waiting++;
    });
  }

  /** Refuses every waiting run (server shutdown); running ones keep their slots until released. */
  close(reason: unknown = new SessionError("too-many-runs", "The server is shutting down.")): void {
    for (const queue of this.queues.values()) for (const waiter of queue) waiter.fail(reason);
    this.queues.clear();
    this.waiting = 0;
  }

  private runningOf(client: string): number {
    return this.runningBy.get(client) ?? 0;
  }

  private take(client: string): Release {
    this.running++;
    this.runningBy.set(client, this.runningOf(client) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running--;
      const left = this.runningOf(client) - 1;
      if (left > 0) this.runningBy.set(client, left);
      else this.runningBy.delete(client);
      this.dispatch();
    };
  }

  /** Hands free slots to waiting clients in turn, skipping those at their own cap. */
  private dispatch(): void {
    while (this.running < this.limits.total) {
      const next = [...this.queues.keys()].find((client) => this.runningOf(client) < this.limits.perClient);
      if (next === undefined) return;
      const queue = this.queues.get(next)!;
      const waiter = queue.shift()!;
      this.waiting--;
      this.queues.delete(next);
      if (queue.length > 0) this.queues.set(next, queue);
      waiter.grant(this.take(next));
    }
  }

  private remove(client: string, waiter: Waiter): void {
    const queue = this.queues.get(client);
    const at = queue?.indexOf(waiter) ?? -1;
    if (!queue || at < 0) return;
    queue.splice(at, 1);
    this.waiting--;
    if (queue.length === 0) this.queues.delete(client);
  }
}
