// Building the sandbox images (sandbox-images/) idempotently. Each image is labelled
// kiln.hash = a hash of its folder and of the image it builds on, so an unchanged
// image is never rebuilt, and the kernel can tell a stale image from a current one.
//
//   kiln-rootfs  Debian bookworm: debian:bookworm-slim where a registry answers, else
//                debootstrap --variant=minbase + podman import (base/mkrootfs.sh)
//   kiln-base    + make, the user work (1000:1000), the runner (base/, runner/)
//   kiln-<lang>  + the toolchain and the default build/exec scripts (<lang>/)

import { createHash } from "node:crypto";
import { spawn } from "node:child_process";
import { existsSync, promises as fsp } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { imageLabels, podman, PodmanError, runCommand, type HostInfo } from "./driver.ts";
import { imageRef, LANGUAGES } from "./languages.ts";

export const IMAGES_DIR = fileURLToPath(new URL("../../../sandbox-images/", import.meta.url));
export const ROOTFS_IMAGE = "localhost/kiln-rootfs:latest";
export const BASE_IMAGE = "localhost/kiln-base:latest";
const REGISTRY_BASE = "docker.io/library/debian:bookworm-slim";
/** Bump to rebuild everything (a change in how images are built that no folder shows). */
const RECIPE_VERSION = "1";

export interface ImageHashes {
  rootfs: string;
  base: string;
  languages: Record<string, string>;
}

/** What every image's kiln.hash label should be, from the folders as they are now. */
export async function expectedHashes(dir = IMAGES_DIR): Promise<ImageHashes> {
  const rootfs = sha256(`kiln-rootfs ${RECIPE_VERSION}\n${await folderHash(join(dir, "base"), ["mkrootfs.sh"])}`);
  const base = sha256(`kiln-base\n${rootfs}\n${await folderHash(join(dir, "base"))}\n${await folderHash(join(dir, "runner"))}`);
  const languages: Record<string, string> = {};
  for (const { name } of LANGUAGES) languages[name] = sha256(`kiln-${name}\n${base}\n${await folderHash(join(dir, name))}`);
  return { rootfs, base, languages };
}

/** A hash of the files of a folder (names, executable bits and contents), or of some of them. */
async function folderHash(dir: string, only?: string[]): Promise<string> {
  const files = (await listFiles(dir)).filter((f) => !only || only.includes(relative(dir, f))).sort();
  const lines: string[] = [];
  for (const file of files) {
    const stat = await fsp.stat(file);
    lines.push(`${relative(dir, file)}\0${stat.mode & 0o111 ? "x" : "-"}\0${sha256(await fsp.readFile(file))}`);
  }
  return sha256(lines.join("\n"));
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fsp.readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(path)));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

function sha256(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

export interface BuildOptions {
  host: HostInfo;
  /** Languages to build (the base always); default all. */
  languages?: readonly string[];
  /** Rebuild even when the labels match. */
  force?: boolean;
  /** "registry" or "debootstrap" forces where the Debian root comes from; default: registry, else debootstrap. */
  rootfsSource?: "registry" | "debootstrap";
  log?: (line: string) => void;
}

export interface BuildReport {
  image: string;
  built: boolean;
  seconds: number;
  sizeMB: number;
}

/** Builds what is missing or stale, in dependency order; returns one report per image looked at. */
export async function buildImages(options: BuildOptions): Promise<BuildReport[]> {
  const wanted = options.languages?.length ? [...options.languages] : LANGUAGES.map((l) => l.name);
  for (const name of wanted) imageRef(name); // throws for an unknown language
  const policyDir = await fsp.mkdtemp(join(tmpdir(), "kiln-policy-"));
  try {
    return await buildAll(options, wanted, await signaturePolicyArgs(policyDir));
  } finally {
    await fsp.rm(policyDir, { recursive: true, force: true });
  }
}

async function buildAll(options: BuildOptions, wanted: string[], policy: string[]): Promise<BuildReport[]> {
  const log = options.log ?? (() => undefined);
  const hashes = await expectedHashes();
  const current = await imageLabels([ROOTFS_IMAGE, BASE_IMAGE, ...wanted.map(imageRef)]);
  const stale = (image: string, hash: string) => options.force || current.get(image)?.["kiln.hash"] !== hash;
  const reports: BuildReport[] = [];

  const step = async (image: string, hash: string, build: () => Promise<void>) => {
    if (!stale(image, hash)) {
      reports.push({ image, built: false, seconds: 0, sizeMB: await imageSizeMB(image) });
      log(`${image}: up to date`);
      return;
    }
    log(`${image}: building…`);
    const started = Date.now();
    const previous = await imageId(image);
    await build();
    const seconds = (Date.now() - started) / 1000;
    const sizeMB = await imageSizeMB(image);
    reports.push({ image, built: true, seconds, sizeMB });
    log(`${image}: built in ${seconds.toFixed(1)} s, ${sizeMB.toFixed(0)} MB`);
    // The replaced image is now untagged: drop it unless a container still uses it.
    if (previous && previous !== (await imageId(image))) await runCommand("podman", ["rmi", previous], 60_000);
  };

  await step(ROOTFS_IMAGE, hashes.rootfs, () => makeRootfs(hashes.rootfs, policy, options, log));
  await step(BASE_IMAGE, hashes.base, () =>
    build(options.host, policy, { tag: BASE_IMAGE, hash: hashes.base, context: IMAGES_DIR, file: join(IMAGES_DIR, "base", "Containerfile"), args: { ROOTFS: ROOTFS_IMAGE } }, log),
  );
  for (const name of wanted) {
    const dir = join(IMAGES_DIR, name);
    const hash = hashes.languages[name]!;
    await step(imageRef(name), hash, () =>
      build(options.host, policy, { tag: imageRef(name), hash, context: dir, file: join(dir, "Containerfile"), args: { BASE: BASE_IMAGE }, language: name }, log),
    );
  }
  return reports;
}

async function makeRootfs(hash: string, policy: string[], options: BuildOptions, log: (line: string) => void): Promise<void> {
  if (options.rootfsSource !== "debootstrap") {
    const pulled = await runCommand("podman", ["pull", ...policy, REGISTRY_BASE], 600_000);
    if (pulled.code === 0) {
      // A label can't be added to a pulled image in place: a one-line build adds it.
      const file = join(await fsp.mkdtemp(join(tmpdir(), "kiln-rootfs-")), "Containerfile");
      await fsp.writeFile(file, `FROM ${REGISTRY_BASE}\nLABEL kiln.hash=${hash} kiln.source=registry\n`);
      await podman(["build", ...policy, "--pull=never", "-t", ROOTFS_IMAGE, "-f", file, join(file, "..")], 600_000);
      await fsp.rm(join(file, ".."), { recursive: true, force: true });
      return;
    }
    if (options.rootfsSource === "registry") throw new PodmanError(`cannot pull ${REGISTRY_BASE}: ${pulled.stderr.trim()}`);
    log(`no image registry answers (${pulled.stderr.trim().split("\n").pop()}); making the root with debootstrap`);
  }
  const work = await fsp.mkdtemp(join(tmpdir(), "kiln-rootfs-"));
  try {
    const root = join(work, "root");
    await streamed("sh", [join(IMAGES_DIR, "base", "mkrootfs.sh"), root], log);
    // podman import reads a tar on stdin: tar's stdout is piped straight into it.
    await pipeline(["tar", "-C", root, "-c", "."], ["podman", "import", ...policy, "--change", `LABEL kiln.hash=${hash}`, "--change", "LABEL kiln.source=debootstrap", "-", ROOTFS_IMAGE]);
  } finally {
    await fsp.rm(work, { recursive: true, force: true });
  }
}

interface BuildSpec {
  tag: string;
  hash: string;
  context: string;
  file: string;
  args: Record<string, string>;
  language?: string;
}

async function build(host: HostInfo, policy: string[], spec: BuildSpec, log: (line: string) => void): Promise<void> {
  const args = ["build", ...policy, "--pull=never", "--network=host", "--layers", "--force-rm"];
  if (host.runtime) args.push("--runtime", host.runtime);
  // Build containers inherit the same quirk as session containers: limits must be explicit.
  args.push("--ulimit", `nofile=${host.ulimits.nofile}:${host.ulimits.nofile}`, "--ulimit", `nproc=${host.ulimits.nproc}:${host.ulimits.nproc}`);
  for (const [key, value] of Object.entries(spec.args)) args.push("--build-arg", `${key}=${value}`);
  args.push("--label", `kiln.hash=${spec.hash}`);
  if (spec.language) args.push("--label", `kiln.language=${spec.language}`);
  args.push("-t", spec.tag, "-f", spec.file, spec.context);
  await streamed("podman", args, log);
}

/** Where /etc/containers/policy.json is missing, podman refuses to import or build without one: one in `dir` then. */
async function signaturePolicyArgs(dir: string): Promise<string[]> {
  if (existsSync("/etc/containers/policy.json") || existsSync(join(homedir(), ".config/containers/policy.json"))) return [];
  const file = join(dir, "policy.json");
  await fsp.writeFile(file, JSON.stringify({ default: [{ type: "insecureAcceptAnything" }] }));
  return ["--signature-policy", file];
}

async function imageId(image: string): Promise<string | null> {
  const result = await runCommand("podman", ["image", "inspect", "--format", "{{.Id}}", image], 30_000);
  return result.code === 0 ? result.stdout.trim() : null;
}

async function imageSizeMB(image: string): Promise<number> {
  const result = await runCommand("podman", ["image", "inspect", "--format", "{{.Size}}", image], 30_000);
  return result.code === 0 ? Number(result.stdout.trim()) / 1e6 : 0;
}

/** Runs a program, passing its output lines to `log`; rejects on a non-zero exit. */
function streamed(program: string, args: string[], log: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ["ignore", "pipe", "pipe"] });
    const tail: string[] = [];
    const onData = (chunk: Buffer) => {
      for (const line of chunk.toString().split("\n")) {
        if (!line.trim()) continue;
        log(`  ${line}`);
        tail.push(line);
        if (tail.length > 20) tail.shift();
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve() : reject(new PodmanError(`${program} ${args[0]} failed (exit ${code}):\n${tail.join("\n")}`))));
  });
}

/** `a | b` without a shell. */
function pipeline(a: string[], b: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const first = spawn(a[0]!, a.slice(1), { stdio: ["ignore", "pipe", "inherit"] });
    const second = spawn(b[0]!, b.slice(1), { stdio: [first.stdout, "pipe", "pipe"] });
    let err = "";
    second.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
    second.stdout.resume();
    first.on("error", reject);
    second.on("error", reject);
    // tar's stdout belongs to podman: its "close" may never come, so its exit is what counts.
    const tarExit = new Promise<number | null>((done) => first.on("exit", done));
    const importExit = new Promise<number | null>((done) => second.on("close", done));
    void Promise.all([tarExit, importExit]).then(([firstCode, secondCode]) => {
      if (firstCode === 0 && secondCode === 0) resolve();
      else reject(new PodmanError(`${a[0]} | ${b[0]} ${b[1]} failed (${firstCode}, ${secondCode}): ${err.trim()}`));
    });
  });
}
