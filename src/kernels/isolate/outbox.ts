// IPC messages sent within one turn of the event loop leave as one message (an
// array): a message's fixed cost — a serializer, a write system call, a wake-up
// of the other process — is then paid once for every run that turn finished or
// started, which is most of the cost of a query under load.

export class Outbox<T> {
  private queue: T[] | null = null;

  constructor(private readonly deliver: (batch: T[]) => void) {}

  post(message: T): void {
    if (this.queue) {
      this.queue.push(message);
      return;
    }
    this.queue = [message];
    // After the I/O callbacks of this turn, which is when other runs' messages have been posted too.
    setImmediate(() => this.flush());
  }

  /** Sends what is queued now. */
  flush(): void {
    const batch = this.queue;
    this.queue = null;
    if (batch) this.deliver(batch);
  }
}
