// The podman command line, and the host's own mount(8): every call spawns the program
// with an argument array (never a shell), and every value that came from a request is
// checked here again before it lands in an argument.

import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { constants } from "node:os";
import { delimiter, join } from "node:path";

const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const CONTAINER_NAME = /^kiln-[a-z0-9][a-z0-9-]{0,62}$/;
const IMAGE = /^localhost\/kiln-[a-z0-9]+:latest$/;
const LABEL_KEY = /^kiln\.[a-z]+$/;
const LABEL_VALUE = /^[A-Za-z0-9._:\/-]{1,255}$/;
/** Host paths we bind-mount: absolute, no commas or colons (podman's -v syntax), no "..". */
const HOST_PATH = /^\/[A-Za-z0-9._\/-]*$/;

export class PodmanError extends Error {
  override name = "PodmanError";
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program with arguments and collects its output; rejects only when it cannot start or times out. */
export function runCommand(program: string, args: readonly string[], timeoutMs = 60_000): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ["ignore", "pipe", "pipe"], shell: false });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new PodmanError(`${program} ${args[0] ?? ""} did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? 128 + (signal ? constants.signals[signal] : 0), stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
  });
}

/** Runs podman; a non-zero exit is an error carrying podman's message. */
export async function podman(args: readonly string[], timeoutMs?: number): Promise<string> {
  const result = await runCommand("podman", args, timeoutMs);
  if (result.code !== 0) {
    throw new PodmanError(`podman ${args[0]}: ${result.stderr.trim() || `exit code ${result.code}`}`);
  }
  return result.stdout;
}

// --- the host ------------------------------------------------------------------

export interface HostInfo {
  podmanVersion: string;
  cgroupVersion: "v1" | "v2";
  cgroupManager: string;
  /** cgroup v1 with a cgroup2 mount beside it (systemd's "hybrid" layout). */
  hybrid: boolean;
  rootless: boolean;
  /** podman's default OCI runtime. */
  defaultRuntime: string;
  /** The runtime Kiln passes with --runtime, or null for podman's default. */
  runtime: string | null;
  /** Values for --ulimit: podman refuses to raise the limits it inherits, so they come from ours. */
  ulimits: { nofile: number; nproc: number };
  /** What was detected and decided, for logs and doctor. */
  notes: string[];
}

/** What podman and this host need; throws PodmanError with the reason when podman can't be used. */
export async function detectHost(): Promise<HostInfo> {
  let raw: string;
  try {
    raw = await podman(["info", "--format", "json"], 30_000);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new PodmanError("podman is not installed");
    throw error;
  }
  const info = JSON.parse(raw) as {
    host?: { cgroupVersion?: string; cgroupManager?: string; ociRuntime?: { name?: string }; security?: { rootless?: boolean } };
    version?: { Version?: string };
  };
  const cgroupVersion = info.host?.cgroupVersion === "v2" ? "v2" : "v1";
  const hybrid = cgroupVersion === "v1" && isCgroup2Mount("/sys/fs/cgroup/unified");
  const defaultRuntime = info.host?.ociRuntime?.name ?? "unknown";
  const notes = [`podman ${info.version?.Version ?? "?"}, cgroup ${cgroupVersion}${hybrid ? " (hybrid)" : ""}, manager ${info.host?.cgroupManager ?? "?"}`];
  let runtime: string | null = null;
  if (hybrid && defaultRuntime !== "runc") {
    // crun refuses cgroup v1 hybrid layouts ("cgroups in hybrid mode not supported"); runc works.
    if (!findInPath("runc")) {
      throw new PodmanError("cgroup v1 hybrid host: crun does not support it and runc is not installed (apt-get install runc)");
    }
    runtime = "runc";
    notes.push("cgroup v1 hybrid: using --runtime runc (crun does not support hybrid mode)");
  } else if (hybrid) {
    runtime = "runc";
  }
  // nproc counts every process of uid 1000 on the host, all sessions together: the per-container
  // cap is --pids-limit, so nproc is set as high as allowed. runc can't raise it above what conmon
  // inherited, which was kernel.pid_max (32768) on a host whose own hard limit was 96365.
  const ulimits = {
    nofile: Math.min(hardLimit("Max open files") ?? 1024, 4096),
    nproc: Math.min(hardLimit("Max processes") ?? 4096, readNumber("/proc/sys/kernel/pid_max") ?? 32_768),
  };
  notes.push(`runtime ${runtime ?? defaultRuntime}, --ulimit nofile=${ulimits.nofile} nproc=${ulimits.nproc} (this process's hard limits, pid_max)`);
  return {
    podmanVersion: info.version?.Version ?? "unknown",
    cgroupVersion,
    cgroupManager: info.host?.cgroupManager ?? "unknown",
    hybrid,
    rootless: info.host?.security?.rootless ?? process.getuid?.() !== 0,
    defaultRuntime,
    runtime,
    ulimits,
    notes,
  };
}

function isCgroup2Mount(path: string): boolean {
  try {
    return readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .some((line) => line.split(" ")[4] === path && / - cgroup2 /.test(line));
  } catch {
    return false;
  }
}

function findInPath(program: string): string | null {
  const dirs = (process.env.PATH ?? "").split(delimiter).concat(["/usr/sbin", "/usr/bin", "/sbin", "/bin"]);
  for (const dir of dirs) {
    if (dir && existsSync(join(dir, program))) return join(dir, program);
  }
  return null;
}

function readNumber(path: string): number | null {
  try {
    const text = readFileSync(path, "utf8").trim();
    return /^\d+$/.test(text) ? Number(text) : null;
  } catch {
    return null;
  }
}

/** A hard limit of this process from /proc/self/limits; null when unlimited or unknown. */
function hardLimit(name: string): number | null {
  try {
    const line = readFileSync("/proc/self/limits", "utf8").split("\n").find((l) => l.startsWith(name));
    const hard = line?.slice(name.length).trim().split(/\s+/)[1];
    return hard && /^\d+$/.test(hard) ? Number(hard) : null;
  } catch {
    return null;
  }
}

// --- containers --------------------------------------------------------------------

export interface ContainerSpec {
  name: string;
  image: string;
  labels: Record<string, string>;
  /** Host directory mounted at /run/kiln, where the runner makes its socket. */
  socketDir: string;
  /** Host directory mounted at /home/work. */
  workDir: string;
  /** rslave: mounts made later on workDir (the session's directory) show up inside. */
  propagation: "rslave" | null;
  memoryMiB: number;
  cpus: number;
  pidsLimit: number;
  tmpMiB: number;
  fileSizeMiB: number;
}

/** The arguments of `podman run` for a session container. */
export function runArgs(spec: ContainerSpec, host: HostInfo): string[] {
  checkName(spec.name);
  if (!IMAGE.test(spec.image)) throw new PodmanError(`refusing image ${JSON.stringify(spec.image)}`);
  checkHostPath(spec.socketDir);
  checkHostPath(spec.workDir);
  for (const [key, value] of Object.entries(spec.labels)) {
    if (!LABEL_KEY.test(key) || !LABEL_VALUE.test(value)) throw new PodmanError(`refusing label ${key}=${value}`);
  }
  const memory = positiveInt(spec.memoryMiB, "memory");
  const cpus = Number(spec.cpus);
  if (!Number.isFinite(cpus) || cpus <= 0 || cpus > 1024) throw new PodmanError(`refusing cpus ${spec.cpus}`);
  const fsize = positiveInt(spec.fileSizeMiB, "file size") * 1024 * 1024;
  const args = ["run", "--detach", "--rm", "--pull=never", "--name", spec.name];
  for (const [key, value] of Object.entries(spec.labels)) args.push("--label", `${key}=${value}`);
  if (host.runtime) args.push("--runtime", host.runtime);
  args.push(
    "--network=none",
    "--cap-drop=ALL",
    "--security-opt=no-new-privileges",
    "--read-only",
    // Our own size-limited tmpfs mounts instead of podman's unlimited ones.
    "--read-only-tmpfs=false",
    "--tmpfs",
    `/tmp:rw,nosuid,nodev,size=${positiveInt(spec.tmpMiB, "tmp size")}m,mode=1777`,
    "--tmpfs",
    "/var/tmp:rw,nosuid,nodev,size=16m,mode=1777",
    "--shm-size=64m",
    "--pids-limit",
    String(positiveInt(spec.pidsLimit, "pids limit")),
    "--memory",
    `${memory}m`,
    // No swap: the memory limit is the limit (and OOM kills are prompt).
    "--memory-swap",
    `${memory}m`,
    "--cpus",
    String(cpus),
    "--ulimit",
    `nofile=${host.ulimits.nofile}:${host.ulimits.nofile}`,
    "--ulimit",
    `nproc=${host.ulimits.nproc}:${host.ulimits.nproc}`,
    "--ulimit",
    `fsize=${fsize}:${fsize}`,
    "--ulimit",
    "core=0:0",
    "--user",
    "1000:1000",
    "--hostname",
    "kiln",
    "--workdir",
    "/home/work",
    "--volume",
    `${spec.socketDir}:/run/kiln:rw`,
    "--volume",
    `${spec.workDir}:/home/work:rw${spec.propagation ? `,${spec.propagation}` : ""}`,
    spec.image,
    "/opt/kiln/runner",
    "/run/kiln/runner.sock",
  );
  return args;
}

export async function startContainer(spec: ContainerSpec, host: HostInfo): Promise<void> {
  await podman(runArgs(spec, host), 120_000);
}

/** Removes a container whatever its state; a missing one is fine. */
export async function removeContainer(name: string): Promise<void> {
  checkName(name);
  await podman(["rm", "--force", "--ignore", "--time", "0", name], 60_000);
}

export interface ContainerInfo {
  name: string;
  labels: Record<string, string>;
}

/** Containers carrying a label (any value), running or not. */
export async function listContainers(label: string): Promise<ContainerInfo[]> {
  if (!LABEL_KEY.test(label)) throw new PodmanError(`refusing label ${label}`);
  const out = await podman(["ps", "--all", "--filter", `label=${label}`, "--format", "json"], 60_000);
  const rows = JSON.parse(out || "[]") as Array<{ Names?: string[]; Labels?: Record<string, string> | null }>;
  return rows.map((row) => ({ name: row.Names?.[0] ?? "", labels: row.Labels ?? {} })).filter((c) => CONTAINER_NAME.test(c.name));
}

/** The labels of local images, by reference; an image that doesn't exist is left out. */
export async function imageLabels(images: readonly string[]): Promise<Map<string, Record<string, string>>> {
  const found = new Map<string, Record<string, string>>();
  await Promise.all(
    images.map(async (image) => {
      if (!IMAGE.test(image)) throw new PodmanError(`refusing image ${JSON.stringify(image)}`);
      const result = await runCommand("podman", ["image", "inspect", "--format", "{{json .Labels}}", image], 30_000);
      if (result.code === 0) found.set(image, (JSON.parse(result.stdout || "null") as Record<string, string> | null) ?? {});
    }),
  );
  return found;
}

export function checkSessionId(id: string): string {
  if (!SESSION_ID.test(id)) throw new PodmanError(`refusing session id ${JSON.stringify(id)}`);
  return id;
}

function checkName(name: string): void {
  if (!CONTAINER_NAME.test(name)) throw new PodmanError(`refusing container name ${JSON.stringify(name)}`);
}

export function checkHostPath(path: string): string {
  if (!HOST_PATH.test(path) || path.split("/").includes("..")) throw new PodmanError(`refusing host path ${JSON.stringify(path)}`);
  return path;
}

function positiveInt(value: number, what: string): number {
  if (!Number.isInteger(value) || value <= 0 || value > 1 << 30) throw new PodmanError(`refusing ${what} ${value}`);
  return value;
}

// --- host mounts -----------------------------------------------------------------------

/** Runs mount(8) or umount(8); rejects with its message. Paths here never pass through podman's -v syntax. */
async function mountCommand(program: "mount" | "umount", args: string[]): Promise<void> {
  for (const arg of args) {
    if (arg.startsWith("/") && (/[\0\n]/.test(arg) || arg.split("/").includes(".."))) throw new PodmanError(`refusing path ${JSON.stringify(arg)}`);
  }
  const result = await runCommand(program, args, 30_000);
  if (result.code !== 0) throw new PodmanError(`${program} ${args.join(" ")}: ${result.stderr.trim() || `exit code ${result.code}`}`);
}

/** Makes `dir` a mount point of its own with shared propagation, so binds onto it reach containers. */
export async function makeSharedMountPoint(dir: string): Promise<void> {
  await mountCommand("mount", ["--bind", dir, dir]);
  await mountCommand("mount", ["--make-shared", dir]);
}

export async function bindMount(source: string, target: string): Promise<void> {
  await mountCommand("mount", ["--bind", source, target]);
}

/** Mount points at or below `dir`, deepest first, from /proc/self/mountinfo. */
export function mountsUnder(dir: string): string[] {
  const found: string[] = [];
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const point = line.split(" ")[4];
    if (point === undefined) continue;
    const decoded = point.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
    if (decoded === dir || decoded.startsWith(dir + "/")) found.push(decoded);
  }
  return found.reverse();
}

/** Unmounts everything at or below `dir` (stacked mounts included). */
export async function unmountAll(dir: string): Promise<void> {
  for (let round = 0; round < 8; round++) {
    const points = mountsUnder(dir);
    if (points.length === 0) return;
    for (const point of points) await mountCommand("umount", ["--lazy", point]).catch(() => undefined);
  }
  if (mountsUnder(dir).length > 0) throw new PodmanError(`could not unmount everything under ${dir}`);
}
