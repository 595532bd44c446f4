// The podman kernels: c, cpp, python, go, rust, java and bash sessions, each in a
// container of its own (sandbox-images/), driven through the runner inside it.
//
//   loadPodmanKernels(options)   → { factory, reason }: the factory, or null and why not
//   podmanKernelFactory(options) → the factory or null
//   checkPodman()                → what `kiln doctor` reports, without side effects

import { existsSync, promises as fsp } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Kernel, KernelContext, KernelFactory } from "../kernel.ts";
import { detectHost, imageLabels, makeSharedMountPoint, unmountAll, type HostInfo } from "./driver.ts";
import { expectedHashes, IMAGES_DIR } from "./images.ts";
import { currentInstanceId, sweepOrphans, type SweepReport } from "./instance.ts";
import { PodmanKernel, type KernelSettings } from "./kernel.ts";
import { imageRef, language, LANGUAGES } from "./languages.ts";
import { Pool, type BoxSettings } from "./pool.ts";

export interface PodmanKernelOptions {
  /** Labels this server's containers; default `${hostname}-${pid}-${process start time}`. */
  instanceId?: string;
  /** Host directory for per-container state (runner sockets, mount slots); default /run/kiln-podman. */
  stateDir?: string;
  /** Warm containers kept per (language, limits) once used; 0 disables. Default 1. */
  poolSize?: number;
  /** Processes per container (--pids-limit). Default 256. */
  pidsLimit?: number;
  /** Size of the container's /tmp tmpfs, MiB. Default 256. */
  tmpMiB?: number;
  /** Largest file a program may write (--ulimit fsize), MiB. Default 256. */
  fileSizeMiB?: number;
  /** stdout and stderr bytes per stream and step forwarded from the container. Default 8 MiB. */
  outputCapBytes?: number;
  /** Only these languages (default: every language whose image exists). */
  languages?: readonly string[];
  /** Remove containers and state of dead instances at start. Default true. */
  sweep?: boolean;
}

export interface PodmanStatus {
  instanceId: string;
  host: HostInfo;
  mode: "slot" | "direct";
  images: string[];
  missing: string[];
  stale: string[];
  swept: SweepReport;
}

export type PodmanKernelFactory = KernelFactory & {
  readonly status: PodmanStatus;
  readonly pool: Pool;
  close(): Promise<void>;
};

export type PodmanLoad = { factory: PodmanKernelFactory; reason: string | null } | { factory: null; reason: string };

const INSTANCE_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** The factory, or null with a one-line reason; a factory with some images missing says which. */
export async function loadPodmanKernels(options: PodmanKernelOptions = {}): Promise<PodmanLoad> {
  let host: HostInfo;
  try {
    host = await detectHost();
  } catch (error) {
    return { factory: null, reason: message(error) };
  }
  if (host.rootless || process.getuid?.() !== 0) {
    return { factory: null, reason: "the podman kernels need rootful podman (the server runs as root)" };
  }
  const images = await imageStatus(options.languages);
  if (images.present.length === 0) {
    return { factory: null, reason: `no sandbox images (missing ${images.missing.join(", ")}): run \`npm run images\`` };
  }
  const instanceId = options.instanceId ?? currentInstanceId();
  if (!INSTANCE_ID.test(instanceId)) return { factory: null, reason: `invalid instance id ${JSON.stringify(instanceId)}` };
  const stateRoot = options.stateDir ?? (existsSync("/run") ? "/run/kiln-podman" : join(tmpdir(), "kiln-podman"));
  const instanceDir = join(stateRoot, instanceId);
  // Root only: the slots below show sessions' files.
  await fsp.mkdir(instanceDir, { recursive: true, mode: 0o700 });
  const swept = options.sweep === false ? { containers: [], stateDirs: [] } : await sweepOrphans(stateRoot, instanceId);
  const mode = (await canShareMounts(instanceDir)) ? "slot" : "direct";

  const pending = new Set<Promise<unknown>>();
  const settings: BoxSettings = {
    host,
    instanceId,
    instanceDir,
    mode,
    pidsLimit: options.pidsLimit ?? 256,
    tmpMiB: options.tmpMiB ?? 256,
    fileSizeMiB: options.fileSizeMiB ?? 256,
    connectTimeoutMs: 30_000,
    track(work) {
      pending.add(work);
      void work.finally(() => pending.delete(work));
    },
  };
  const pool = new Pool(settings, options.poolSize ?? 1);
  const kernelSettings: KernelSettings = { pool, outputCapBytes: options.outputCapBytes ?? 8 * 1024 * 1024, abortGraceMs: 3000 };
  const status: PodmanStatus = { instanceId, host, mode, images: images.present, missing: images.missing, stale: images.stale, swept };

  const factory: PodmanKernelFactory = {
    name: "podman",
    images: images.present,
    vfs: "disk",
    owner: { uid: 1000, gid: 1000 },
    confineDisk: true,
    status,
    pool,
    async create(context: KernelContext): Promise<Kernel> {
      const lang = language(context.image);
      if (!lang || !images.present.includes(lang.name)) throw new Error(`no podman image for ${JSON.stringify(context.image)}`);
      return PodmanKernel.create(context, lang, kernelSettings);
    },
    async close() {
      await pool.close();
      while (pending.size > 0) await Promise.all([...pending]);
      await unmountAll(instanceDir).catch(() => undefined);
      await fsp.rm(instanceDir, { recursive: true, force: true }).catch(() => undefined);
    },
  };
  const notes = [
    images.missing.length ? `missing images: ${images.missing.join(", ")} (run \`npm run images\`)` : "",
    images.stale.length ? `out-of-date images: ${images.stale.join(", ")} (run \`npm run images\`)` : "",
  ].filter(Boolean);
  return { factory, reason: notes.length ? notes.join("; ") : null };
}

export async function podmanKernelFactory(options: PodmanKernelOptions = {}): Promise<PodmanKernelFactory | null> {
  return (await loadPodmanKernels(options)).factory;
}

export interface PodmanCheck {
  ok: boolean;
  /** Why the podman kernels can't run here, in one line; null when they can. */
  reason: string | null;
  present: string[];
  missing: string[];
  stale: string[];
  /** Everything detected, for `kiln doctor`. */
  lines: string[];
}

/** Host checks for `kiln doctor`: podman, runtime, ulimits, images. Changes nothing. */
export async function checkPodman(): Promise<PodmanCheck> {
  let host: HostInfo;
  try {
    host = await detectHost();
  } catch (error) {
    const reason = message(error);
    return { ok: false, reason, present: [], missing: [], stale: [], lines: [reason] };
  }
  const images = await imageStatus();
  const lines = [...host.notes];
  let reason: string | null = null;
  if (host.rootless || process.getuid?.() !== 0) reason = "the podman kernels need rootful podman (the server runs as root)";
  else if (images.present.length === 0) reason = "no sandbox images: run `npm run images`";
  if (reason) lines.push(reason);
  lines.push(`images present: ${images.present.join(", ") || "none"}`);
  if (images.missing.length) lines.push(`images missing: ${images.missing.join(", ")} (npm run images)`);
  if (images.stale.length) lines.push(`images out of date: ${images.stale.join(", ")} (npm run images)`);
  return { ok: reason === null, reason, ...images, lines };
}

async function imageStatus(only?: readonly string[]): Promise<{ present: string[]; missing: string[]; stale: string[] }> {
  const names = LANGUAGES.map((l) => l.name).filter((n) => !only || only.includes(n));
  const labels = await imageLabels(names.map(imageRef));
  // Staleness is only known where the image folders are (a source checkout).
  const expected = existsSync(join(IMAGES_DIR, "base")) ? (await expectedHashes()).languages : null;
  const present = names.filter((n) => labels.has(imageRef(n)));
  return {
    present,
    missing: names.filter((n) => !labels.has(imageRef(n))),
    stale: expected ? present.filter((n) => labels.get(imageRef(n))?.["kiln.hash"] !== expected[n]) : [],
  };
}

/** Whether binds onto a shared mount point here reach containers (root, and mounts allowed). */
async function canShareMounts(instanceDir: string): Promise<boolean> {
  const probe = join(instanceDir, "probe");
  try {
    await fsp.mkdir(probe, { recursive: true });
    await makeSharedMountPoint(probe);
    return true;
  } catch {
    return false;
  } finally {
    await unmountAll(probe).catch(() => undefined);
    await fsp.rm(probe, { recursive: true, force: true }).catch(() => undefined);
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
