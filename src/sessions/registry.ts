// Live sessions by UUID and by name: creation (with Backend.AI's reuse rules),
// look-up, the server-wide session limit, idle clean-up and shutdown.

import type { KilnConfig } from "../config.ts";
import type { Catalog } from "../kernels/catalog.ts";
import type { KernelFactory, SessionLimits } from "../kernels/kernel.ts";
import { MemoryVfs } from "../vfs/memory.ts";
import type { Vfs } from "../vfs/vfs.ts";
import { SessionError } from "./errors.ts";
import type { RunObserver } from "./observer.ts";
import { Session, type RunGate } from "./session.ts";

export interface CreateRequest {
  /** The access key that creates the session (null when authentication is off); only it can reach the session. */
  owner: string | null;
  /** An image reference as the client sent it (lang or image). */
  image: string;
  name: string;
  environ: Record<string, string>;
  /** From config.resources; undefined → the server's (or the kernel's) default. */
  memoryMiB?: number;
  cpus?: number;
  /** From config.limits; undefined → the kernel's default, capped by the server's. */
  stepTimeoutMs?: number;
  outputBytes?: number;
  reuseIfExists: boolean;
  tag: string | null;
}

export interface Created {
  session: Session;
  created: boolean;
}

/** Names are per owner: two keys may both call a session "demo". */
function nameKey(owner: string | null, name: string): string {
  return `${owner ?? ""}\0${name}`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Runs one session may hold queued or unread: each holds up to twice the console cap. */
const MAX_RUNS_PER_SESSION = 16;

/**
 * A full collection where the runtime offers one (Node started with --expose-gc, as `npm start`
 * and bin/kiln.js do; Bun), twice: the first frees buffers whose memory is only released once
 * sweeping ends, and one made once allocation has calmed down also shrinks V8's young generation.
 */
function collectGarbage(): void {
  const g = globalThis as { gc?: () => void; Bun?: { gc(force: boolean): void } };
  const collect = () => (g.Bun ? g.Bun.gc(true) : g.gc?.());
  collect();
  (setTimeout(collect, 3000) as { unref?: () => void }).unref?.();
}

export class Registry {
  private readonly byId = new Map<string, Session>();
  private readonly byName = new Map<string, Session>();
  /** Names being created right now: a second create of the same name waits for the first. */
  private readonly pending = new Map<string, Promise<Created>>();
  private gcTimer: ReturnType<typeof setInterval> | undefined;
  private trimTimer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  /** Sessions being created right now: they count against maxSessions. */
  private creating = 0;
  /** Session filesystems that crashed servers left in the data directory, removed at start (see sweepOrphans). */
  readonly orphansSwept: Promise<string[]>;

  constructor(
    private readonly config: KilnConfig,
    private readonly catalog: Catalog,
    private readonly hooks: {
      /** Told of every session's step and run ends (metrics). */
      observer?: RunObserver;
      /** Caps on runs executing at once, shared by all sessions. */
      runGate?: RunGate;
    } = {},
  ) {
    const every = Math.max(1000, Math.min(60_000, Math.floor(config.idleTimeoutMs / 4)));
    this.gcTimer = setInterval(() => void this.collectIdle().catch(() => undefined), every);
    // The timer must not keep a process (or a test runner) alive on its own.
    (this.gcTimer as { unref?: () => void }).unref?.();
    // A sweep that fails leaves the images to the next start.
    this.orphansSwept = this.sweepOrphans().catch(() => []);
  }

  get size(): number {
    return this.byId.size;
  }

  /** Live sessions; with an owner, only that owner's. */
  sessions(owner?: string | null): Session[] {
    const all = [...this.byId.values()];
    return owner === undefined ? all : all.filter((s) => s.init.owner === owner);
  }

  async create(request: CreateRequest): Promise<Created> {
    const key = nameKey(request.owner, request.name);
    const inFlight = this.pending.get(key);
    if (inFlight) {
      await inFlight.catch(() => undefined);
      return this.create(request);
    }
    const attempt = this.createNamed(request);
    this.pending.set(key, attempt);
    try {
      return await attempt;
    } finally {
      this.pending.delete(key);
    }
  }

  /** A live session of this owner by UUID or by name; another owner's is as absent as a missing one. */
  get(ref: string, owner: string | null): Session {
    const session = (UUID.test(ref) ? this.byId.get(ref.toLowerCase()) : undefined) ?? this.byName.get(nameKey(owner, ref));
    if (!session || session.init.owner !== owner || session.status === "TERMINATING" || session.status === "TERMINATED") {
      throw new SessionError("no-such-session", `Session (id=${ref}) does not exist.`);
    }
    session.lastUsed = Date.now();
    return session;
  }

  async destroy(ref: string, owner: string | null): Promise<Record<string, number>> {
    const session = this.get(ref, owner);
    this.forget(session);
    return session.destroy();
  }

  /** Destroys every session and stops the idle timer (server shutdown). */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.gcTimer);
    clearTimeout(this.trimTimer);
    await this.orphansSwept;
    // Creates in flight see `closed` when their kernel is ready and free it themselves.
    await Promise.allSettled([...this.pending.values()]);
    const all = this.sessions();
    all.forEach((s) => this.forget(s));
    await Promise.allSettled(all.map((s) => s.destroy()));
  }

  /** Destroys sessions untouched for idleTimeoutMs and not running anything. */
  async collectIdle(now = Date.now()): Promise<void> {
    const idle = this.sessions().filter((s) => !s.busy && now - s.lastUsed >= this.config.idleTimeoutMs);
    idle.forEach((s) => this.forget(s));
    await Promise.allSettled(idle.map((s) => s.destroy()));
  }

  private async createNamed(request: CreateRequest): Promise<Created> {
    const resolved = this.catalog.resolve(request.image);
    if (resolved.kind === "unknown") throw new SessionError("unknown-image", `Unknown image: ${request.image}`);
    if (resolved.kind === "unavailable") {
      throw new SessionError("unavailable-image", `No kernel for "${resolved.image}" is available on this server.`);
    }
    const existing = this.byName.get(nameKey(request.owner, request.name));
    if (existing) {
      if (request.reuseIfExists && existing.init.image === resolved.image) return { session: existing, created: false };
      throw new SessionError("session-exists", `Session ${request.name} already exists.`, { existingSessionId: existing.id });
    }
    if (this.closed) throw new SessionError("too-many-sessions", "The server is shutting down.");
    // Creates still in flight hold a slot too: concurrent creates of different names must not overshoot.
    if (this.byId.size + this.creating >= this.config.maxSessions) {
      throw new SessionError("too-many-sessions", `The server already runs ${this.config.maxSessions} sessions, its limit.`);
    }
    const limits = this.limitsFor(request, resolved.factory);
    const id = crypto.randomUUID();
    this.creating++;
    let vfs: Vfs;
    let kernel;
    try {
      try {
        vfs = await this.makeVfs(id, resolved.factory);
      } catch (error) {
        if (error instanceof SessionError) throw error;
        throw new SessionError("kernel-failed", `Could not create the session's files: ${error instanceof Error ? error.message : String(error)}`);
      }
      try {
        kernel = await resolved.factory.create({ sessionId: id, image: resolved.image, vfs, environ: request.environ, limits });
      } catch (error) {
        await vfs.destroy().catch(() => undefined);
        throw new SessionError("kernel-failed", `Could not start a ${resolved.image} kernel: ${error instanceof Error ? error.message : String(error)}`);
      }
      if (this.closed) {
        // close() ran while the kernel was starting: free it rather than register a session nobody will destroy.
        await kernel.destroy().catch(() => undefined);
        await vfs.destroy().catch(() => undefined);
        throw new SessionError("too-many-sessions", "The server is shutting down.");
      }
    } finally {
      this.creating--;
    }
    const session = new Session(
      { id, name: request.name, owner: request.owner, image: resolved.image, tag: request.tag, environ: request.environ, limits, kernelName: resolved.factory.name },
      vfs,
      kernel,
      {
        flushIntervalMs: this.config.flushIntervalMs,
        consoleCapChars: this.config.consoleCapChars,
        maxRuns: MAX_RUNS_PER_SESSION,
        ...(this.hooks.observer && { observer: this.hooks.observer }),
        ...(this.hooks.runGate && { runGate: this.hooks.runGate }),
      },
    );
    this.byId.set(id, session);
    this.byName.set(nameKey(request.owner, request.name), session);
    return { session, created: true };
  }

  private limitsFor(request: CreateRequest, factory: KernelFactory): SessionLimits {
    const { config } = this;
    // A kernel's defaults never exceed the server's maximum; only what the client asks for can be refused.
    const memoryMiB = request.memoryMiB ?? Math.min(factory.defaults?.memoryMiB ?? config.defaultMemoryMiB, config.maxMemoryMiB);
    const cpus = request.cpus ?? Math.min(factory.defaults?.cpus ?? config.defaultCpus, config.maxCpus);
    if (memoryMiB > config.maxMemoryMiB) {
      throw new SessionError("over-limit", `config.resources.mem: ${memoryMiB} MiB is more than this server's maximum of ${config.maxMemoryMiB} MiB.`);
    }
    if (cpus > config.maxCpus) {
      throw new SessionError("over-limit", `config.resources.cpu: ${cpus} is more than this server's maximum of ${config.maxCpus}.`);
    }
    if (request.stepTimeoutMs !== undefined && request.stepTimeoutMs > config.stepTimeoutMs) {
      throw new SessionError("over-limit", `config.limits.stepTimeoutMs: ${request.stepTimeoutMs} is more than this server's maximum of ${config.stepTimeoutMs}.`);
    }
    if (request.outputBytes !== undefined && request.outputBytes > config.runOutputMaxBytes) {
      throw new SessionError("over-limit", `config.limits.outputBytes: ${request.outputBytes} is more than this server's maximum of ${config.runOutputMaxBytes}.`);
    }
    const stepTimeoutMs = request.stepTimeoutMs ?? Math.min(factory.defaults?.stepTimeoutMs ?? config.stepTimeoutMs, config.stepTimeoutMs);
    const outputBytes = request.outputBytes ?? Math.min(factory.defaults?.outputBytes ?? config.runOutputMaxBytes, config.runOutputMaxBytes);
    return { memoryMiB, cpus, stepTimeoutMs, outputBytes };
  }

  private async makeVfs(id: string, factory: KernelFactory): Promise<Vfs> {
    const quota = { maxBytes: this.config.sessionMaxBytes, maxFiles: this.config.sessionMaxFiles };
    if (factory.vfs === "memory") return new MemoryVfs({ quota });
    if (!this.config.dataDir) throw new SessionError("kernel-failed", "Disk-backed sessions need a data directory (--data-dir).");
    // Loaded only when needed: the disk backend is Node-API code the edge build does without.
    const { DiskVfs } = await import("../vfs/disk.ts");
    // The image is named after this server, so that a later start can tell it was left by a crash.
    const confine = factory.confineDisk ? { filesystem: "loop" as const, imageTag: (await import("../instance.ts")).currentInstanceId() } : {};
    return DiskVfs.create(`${this.config.dataDir}/${id}`, { quota, ...(factory.owner ? { owner: factory.owner } : {}), ...confine });
  }

  /**
   * Unmounts and deletes the session filesystems of dead servers of this host in the data
   * directory: a server killed mid-session leaves them mounted. Only where some kernel
   * confines its sessions' disk (that needs root and mount(8) anyway).
   */
  private async sweepOrphans(): Promise<string[]> {
    const { dataDir } = this.config;
    if (!dataDir || !this.catalog.factories().some((f) => f.confineDisk)) return [];
    const [{ DiskVfs }, { instanceAlive }] = await Promise.all([import("../vfs/disk.ts"), import("../instance.ts")]);
    return DiskVfs.sweepImages(dataDir, (tag) => instanceAlive(tag) === false);
  }

  private forget(session: Session): void {
    this.byId.delete(session.id);
    const key = nameKey(session.init.owner, session.name);
    if (this.byName.get(key) === session) this.byName.delete(key);
    if (this.byId.size === 0) this.scheduleTrim();
  }

  /**
   * Once the server has stayed without sessions for idleTrimMs, the kernels give back what
   * sessions left behind and the JavaScript heap is collected: neither V8 nor malloc returns
   * freed memory to the system on its own, so a burst would leave RSS near its peak.
   */
  private scheduleTrim(): void {
    clearTimeout(this.trimTimer);
    if (this.config.idleTrimMs === 0) return;
    this.trimTimer = setTimeout(() => {
      if (this.byId.size > 0 || this.creating > 0 || this.closed) return;
      void Promise.all(this.catalog.factories().map((f) => f.trim?.().catch(() => undefined))).then(collectGarbage);
    }, this.config.idleTrimMs);
    (this.trimTimer as { unref?: () => void }).unref?.();
  }
}
