// What a step and a session cost with the podman kernels, against the alternatives:
// a step through the runner's socket vs `podman exec` vs a bare host spawn, and a
// session's container from the warm pool vs a cold `podman run`.
//   node --no-node-snapshot --import tsx bench/podman-latency.ts [ROUNDS]

import { spawn } from "node:child_process";
import { chown, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { podman } from "../src/kernels/podman/driver.ts";
import { loadPodmanKernels } from "../src/kernels/podman/index.ts";
import { Box } from "../src/kernels/podman/pool.ts";

const rounds = Number(process.argv[2] ?? 30);
const stateDir = await mkdtemp(join(tmpdir(), "kiln-bench-state-"));
const dataDir = await mkdtemp(join(tmpdir(), "kiln-bench-data-"));
const load = await loadPodmanKernels({ stateDir, poolSize: 1, languages: ["bash"] });
if (!load.factory) throw new Error(load.reason);
const pool = load.factory.pool;
const limits = { memoryMiB: 512, cpus: 1 };

/** A session directory as the registry makes it: owned by the container's user. */
async function session(): Promise<{ id: string; dir: string }> {
  const id = crypto.randomUUID();
  const dir = join(dataDir, id);
  await mkdir(dir);
  await chown(dir, 1000, 1000);
  return { id, dir };
}

/** Median and p90 of `body`, with `prepare` (untimed) before each round. */
async function time(label: string, n: number, body: () => Promise<unknown>, prepare: () => Promise<unknown> = async () => undefined): Promise<void> {
  const samples: number[] = [];
  for (let i = 0; i <= n; i++) {
    await prepare();
    const started = process.hrtime.bigint();
    await body();
    if (i > 0) samples.push(Number(process.hrtime.bigint() - started) / 1e6); // round 0 warms up
  }
  samples.sort((a, b) => a - b);
  const median = samples[Math.floor(samples.length / 2)]!;
  const p90 = samples[Math.floor(samples.length * 0.9)]!;
  console.log(`${label.padEnd(48)} median ${median.toFixed(1).padStart(7)} ms   p90 ${p90.toFixed(1).padStart(7)} ms   (n=${n})`);
}

function hostSpawn(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["-c", "true"], { stdio: "ignore" });
    child.on("error", reject);
    child.on("exit", () => resolve());
  });
}

try {
  const box = await pool.acquire("bash", limits, await session());
  const quiet = { output: () => undefined, waiting: () => undefined };
  await time("step: host spawn of bash -c true", rounds, hostSpawn);
  await time("step: runner, bash -c true in the container", rounds, () => box.channel.exec({ kind: "shell", command: "true", env: [] }, 0, quiet));
  await time("step: podman exec <container> bash -c true", Math.min(rounds, 10), () => podman(["exec", box.name, "bash", "-c", "true"]));

  const boxes: Box[] = [];
  await time("session: cold (podman run, runner connected)", Math.min(rounds, 8), async () => {
    const b = await Box.start("bash", limits, pool.settings, await session());
    boxes.push(b);
  });
  await time(
    "session: warm (pool take + bind mount)",
    Math.min(rounds, 8),
    async () => boxes.push(await pool.acquire("bash", limits, await session())),
    () => pool.settled(),
  );
  await Promise.all([box, ...boxes].map((b) => b.destroy()));
} finally {
  await load.factory.close();
  await rm(stateDir, { recursive: true, force: true });
  await rm(dataDir, { recursive: true, force: true });
}
