// node:events — EventEmitter with Node's listener semantics (once wrappers,
// prepend, 'error' without a listener throws, 'newListener'), plus events.once.

type Listener = ((...args: any[]) => unknown) & { listener?: Listener };

export class EventEmitter {
  static defaultMaxListeners = 10;
  static readonly errorMonitor = Symbol("events.errorMonitor");
  static EventEmitter = EventEmitter;
  private _events = new Map<string | symbol, Listener[]>();
  private _maxListeners: number | undefined;

  static once(emitter: EventEmitter, name: string | symbol): Promise<unknown[]> {
    return once(emitter, name);
  }

  static listenerCount(emitter: EventEmitter, name: string | symbol): number {
    return emitter.listenerCount(name);
  }

  on(name: string | symbol, listener: Listener): this {
    return this.add(name, listener, false);
  }

  addListener(name: string | symbol, listener: Listener): this {
    return this.add(name, listener, false);
  }

  prependListener(name: string | symbol, listener: Listener): this {
    return this.add(name, listener, true);
  }

  once(name: string | symbol, listener: Listener): this {
    return this.add(name, this.onceWrapper(name, listener), false);
  }

  prependOnceListener(name: string | symbol, listener: Listener): this {
    return this.add(name, this.onceWrapper(name, listener), true);
  }

  off(name: string | symbol, listener: Listener): this {
    return this.removeListener(name, listener);
  }

  removeListener(name: string | symbol, listener: Listener): this {
    const list = this._events.get(name);
    if (!list) return this;
    const i = list.findLastIndex((l) => l === listener || l.listener === listener);
    if (i < 0) return this;
    list.splice(i, 1);
    if (list.length === 0) this._events.delete(name);
    if (this._events.has("removeListener")) this.emit("removeListener", name, listener);
    return this;
  }

  removeAllListeners(name?: string | symbol): this {
    if (name === undefined) this._events.clear();
    else this._events.delete(name);
    return this;
  }

  emit(name: string | symbol, ...args: unknown[]): boolean {
    const list = this._events.get(name);
    if (name === "error" && (!list || list.length === 0)) {
      const err = args[0];
      if (err instanceof Error) throw err;
      const wrapped = new Error(`Unhandled error. (${String(err)})`) as Error & { code: string; context: unknown };
      wrapped.code = "ERR_UNHANDLED_ERROR";
      wrapped.context = err;
      throw wrapped;
    }
    if (!list || list.length === 0) return false;
    for (const listener of [...list]) listener.apply(this, args);
    return true;
  }

  listeners(name: string | symbol): Listener[] {
    return (this._events.get(name) ?? []).map((l) => l.listener ?? l);
  }

  rawListeners(name: string | symbol): Listener[] {
    return [...(this._events.get(name) ?? [])];
  }

  listenerCount(name: string | symbol): number {
    return this._events.get(name)?.length ?? 0;
  }

  eventNames(): (string | symbol)[] {
    return [...this._events.keys()];
  }

  setMaxListeners(n: number): this {
    this._maxListeners = n;
    return this;
  }

  getMaxListeners(): number {
    return this._maxListeners ?? EventEmitter.defaultMaxListeners;
  }

  private add(name: string | symbol, listener: Listener, prepend: boolean): this {
    if (typeof listener !== "function") {
      const err = new TypeError(`The "listener" argument must be of type function. Received ${typeof listener}`) as TypeError & { code: string };
      err.code = "ERR_INVALID_ARG_TYPE";
      throw err;
    }
    if (this._events.has("newListener")) this.emit("newListener", name, listener.listener ?? listener);
    const list = this._events.get(name) ?? [];
    if (prepend) list.unshift(listener);
    else list.push(listener);
    this._events.set(name, list);
    return this;
  }

  private onceWrapper(name: string | symbol, listener: Listener): Listener {
    const self = this;
    let fired = false;
    const wrapper: Listener = function (this: unknown, ...args: unknown[]) {
      if (fired) return undefined;
      fired = true;
      self.removeListener(name, wrapper);
      return listener.apply(this, args);
    };
    wrapper.listener = listener;
    return wrapper;
  }
}

export function once(emitter: EventEmitter, name: string | symbol): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const onError = (err: unknown) => {
      emitter.removeListener(name, onEvent);
      reject(err);
    };
    const onEvent = (...args: unknown[]) => {
      if (name !== "error") emitter.removeListener("error", onError);
      resolve(args);
    };
    emitter.once(name, onEvent);
    if (name !== "error") emitter.once("error", onError);
  });
}

export default EventEmitter;
