// Session containers ("boxes") and the warm pool.
//
// A box is a started container whose runner we are connected to. Its host state lives
// in `${instanceDir}/${name}/`: sock/ (mounted at /run/kiln, where the runner makes its
// socket) and, in "slot" mode, work/ (mounted at /home/work with rslave propagation).
//
// `podman run` costs 0.3–1 s, so a box can be started before its session exists: in
// slot mode work/ is a shared mount point, and binding the session's directory onto it
// later makes the files appear at /home/work inside the running container. Where the
// server may not mount (rootless podman), boxes bind the session directory directly
// ("direct" mode) and are started per session, without a pool.

import { randomBytes } from "node:crypto";
import { promises as fsp } from "node:fs";
import { join } from "node:path";
import {
  bindMount,
  checkHostPath,
  checkSessionId,
  makeSharedMountPoint,
  mountsUnder,
  removeContainer,
  startContainer,
  unmountAll,
  type HostInfo,
} from "./driver.ts";
import { imageRef } from "./languages.ts";
import { RunnerChannel } from "./protocol.ts";

/** The group of the container's user (work, 1000:1000). */
const WORK_GID = 1000;

export interface BoxSettings {
  host: HostInfo;
  instanceId: string;
  /** This instance's directory for box state. */
  instanceDir: string;
  mode: "slot" | "direct";
  pidsLimit: number;
  tmpMiB: number;
  fileSizeMiB: number;
  connectTimeoutMs: number;
  /** Background work (container removal) the factory waits for at close. */
  track(work: Promise<unknown>): void;
}

export interface BoxLimits {
  memoryMiB: number;
  cpus: number;
}

export class Box {
  private attached = false;
  private destroyed = false;

  private constructor(
    readonly name: string,
    readonly language: string,
    readonly limits: BoxLimits,
    readonly dir: string,
    readonly channel: RunnerChannel,
    private readonly settings: BoxSettings,
  ) {}

  /**
   * Starts a container. In direct mode `sessionDir` is mounted at /home/work from the
   * start; in slot mode the box is attached to its session later (attach()).
   */
  static async start(language: string, limits: BoxLimits, settings: BoxSettings, session?: { id: string; dir: string }): Promise<Box> {
    const name = `kiln-${randomBytes(6).toString("hex")}`;
    const dir = join(settings.instanceDir, name);
    const socketDir = join(dir, "sock");
    const slot = join(dir, "work");
    if (settings.mode === "direct" && !session) throw new Error("direct mode needs the session's directory up front");
    await fsp.mkdir(socketDir, { recursive: true, mode: 0o770 });
    // root:work 0770: the runner (uid 1000) makes its socket here; sealed once it is connected.
    await fsp.chown(socketDir, 0, WORK_GID);
    await fsp.chmod(socketDir, 0o770);
    if (settings.mode === "slot") {
      await fsp.mkdir(slot, { mode: 0o755 });
      await makeSharedMountPoint(slot);
    }
    const box = { dir, name };
    try {
      await startContainer(
        {
          name,
          image: imageRef(language),
          labels: {
            "kiln.instance": settings.instanceId,
            "kiln.session": session ? checkSessionId(session.id) : "warm",
            "kiln.language": language,
          },
          socketDir,
          workDir: settings.mode === "slot" ? slot : checkHostPath(session!.dir),
          propagation: settings.mode === "slot" ? "rslave" : null,
          memoryMiB: limits.memoryMiB,
          cpus: limits.cpus,
          pidsLimit: settings.pidsLimit,
          tmpMiB: settings.tmpMiB,
          fileSizeMiB: settings.fileSizeMiB,
        },
        settings.host,
      );
      const channel = await RunnerChannel.connect(join(socketDir, "runner.sock"), settings.connectTimeoutMs);
      // The runner removed its socket before saying hello: nothing in the container may write here now.
      await fsp.chmod(socketDir, 0o550);
      const started = new Box(name, language, limits, dir, channel, settings);
      if (session && settings.mode === "direct") started.attached = true;
      return started;
    } catch (error) {
      await teardown(box.name, box.dir, settings);
      throw error;
    }
  }

  /** Gives the box its session: the session's directory appears at /home/work inside. */
  async attach(sessionDir: string): Promise<void> {
    if (this.attached) return;
    if (this.settings.mode === "slot") await bindMount(sessionDir, join(this.dir, "work"));
    this.attached = true;
  }

  /** Usable: not destroyed, and its runner still connected. */
  get alive(): boolean {
    return !this.destroyed && !this.channel.closed;
  }

  /**
   * Stops the box: closing the channel makes the runner kill everything and exit (the
   * container then removes itself, --rm); the session's directory is unmounted here and
   * now, and the container removal is confirmed in the background.
   */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    this.channel.close();
    await teardown(this.name, this.dir, this.settings);
  }
}

async function teardown(name: string, dir: string, settings: BoxSettings): Promise<void> {
  await unmountAll(dir).catch(() => undefined);
  const removal = (async () => {
    await removeContainer(name).catch(() => undefined);
    // Never a recursive delete while something is mounted below: it could reach the session's files.
    if (mountsUnder(dir).length === 0) await fsp.rm(dir, { recursive: true, force: true });
  })();
  settings.track(removal);
}

/** Pool keys (language and limits) kept warm at most; the least recently used key goes first. */
const MAX_KEYS = 8;

/** Warm boxes per (language, limits), refilled after each take; only for keys that were used. */
export class Pool {
  /** In use order: a key taken from moves to the end. */
  private readonly warm = new Map<string, Box[]>();
  private readonly filling = new Map<string, Promise<void>>();
  private closed = false;

  constructor(
    readonly settings: BoxSettings,
    /** Warm boxes kept per key; 0 disables the pool. */
    private readonly size: number,
  ) {}

  /** A box for a session: a warm one when there is one, else a fresh one; then the pool is topped up. */
  async acquire(language: string, limits: BoxLimits, session: { id: string; dir: string }): Promise<Box> {
    const key = `${language}|${limits.memoryMiB}|${limits.cpus}`;
    let box: Box | undefined;
    if (this.settings.mode === "slot") {
      const list = this.warm.get(key) ?? [];
      while (!box && list.length > 0) {
        const candidate = list.shift()!;
        if (candidate.alive) box = candidate;
        else void candidate.destroy();
      }
      this.warm.delete(key);
      this.warm.set(key, list);
      this.evict();
    }
    box ??= await Box.start(language, limits, this.settings, session);
    this.refill(key, language, limits);
    try {
      await box.attach(session.dir);
    } catch (error) {
      await box.destroy();
      throw error;
    }
    return box;
  }

  /** Sessions with ever new limits must not leave a warm container behind for each. */
  private evict(): void {
    while (this.warm.size > MAX_KEYS) {
      const [oldest, list] = this.warm.entries().next().value as [string, Box[]];
      this.warm.delete(oldest);
      for (const box of list) void box.destroy();
    }
  }

  /** Starts boxes in the background until the key has `size` warm ones; one at a time per key. */
  private refill(key: string, language: string, limits: BoxLimits): void {
    if (this.closed || this.size <= 0 || this.settings.mode !== "slot" || this.filling.has(key)) return;
    const work = (async () => {
      for (;;) {
        const list = this.warm.get(key);
        if (this.closed || !list || list.filter((b) => b.alive).length >= this.size) return;
        const box = await Box.start(language, limits, this.settings);
        // Closed or evicted meanwhile: nobody will take it.
        if (this.closed || this.warm.get(key) !== list) return void (await box.destroy());
        list.push(box);
      }
    })()
      .catch(() => undefined) // a failed warm start only costs the next session a cold one
      .finally(() => this.filling.delete(key));
    this.filling.set(key, work);
    this.settings.track(work);
  }

  /** How many warm boxes wait, per key (for stats and tests). */
  counts(): Record<string, number> {
    return Object.fromEntries([...this.warm].map(([key, list]) => [key, list.filter((b) => b.alive).length]));
  }

  /** Waits for the refills in progress (tests use it to measure warm starts). */
  async settled(): Promise<void> {
    await Promise.all([...this.filling.values()]);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.settled();
    const boxes = [...this.warm.values()].flat();
    this.warm.clear();
    await Promise.all(boxes.map((b) => b.destroy()));
  }
}
