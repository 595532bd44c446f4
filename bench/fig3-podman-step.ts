// Figure 3: one podman step — a batch run whose only step is `exec: "./main"` (a
// prebuilt static hello) in an existing C session, over HTTP — against `podman exec`
// of the same binary in the same container, a bwrap start of it on the image's rootfs,
// and child_process.spawn of it on the host (the floor).

import { spawn } from "node:child_process";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createSession, expectOk, request, runToEnd } from "./lib/http.ts";
import { containerWithFile, HELLO_C, upload } from "./lib/podman.ts";
import { run, startServer } from "./lib/proc.ts";
import { time, timePair } from "./lib/stats.ts";
import { row, type Ctx, type FigureResult } from "./lib/types.ts";

function spawnWait(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 && out === "hello, world\n" ? resolve() : reject(new Error(`${cmd} ${args.join(" ")}: exit ${code}, output ${JSON.stringify(out)}`))));
  });
}

export async function figure3(ctx: Ctx): Promise<FigureResult> {
  if (ctx.podmanUnavailable) return { skipped: ctx.podmanUnavailable };
  const server = await startServer({ kernels: ["podman"], podmanLanguages: ["c"], dataDir: join(ctx.tmp, "fig3-data"), podmanPoolSize: 1 });
  let rootfs: string | null = null;
  try {
    if (!server.images.includes("c")) return { skipped: `the podman C kernel is unavailable: ${server.notes.join("; ")}` };
    const base = server.url;
    const id = await createSession(base, { lang: "c" });
    const marker = `marker-${id}`;
    await upload(base, id, [{ name: "main.c", data: HELLO_C }, { name: marker, data: "" }]);
    // Static, so the very same file runs in the container, under bwrap and on the host.
    const build = await runToEnd(base, id, { mode: "batch", options: { build: "gcc -O2 -static main.c -o main", exec: "./main" } });
    if (build.exitCode !== 0 || build.stdout !== "hello, world\n") throw new Error(`building hello failed: ${build.stderr}`);
    const binary = (await request(base, "GET", `/session/${id}/download_single?file=main`)).body;
    const hostDir = join(ctx.tmp, "fig3-host");
    await mkdir(hostDir, { recursive: true });
    const hostBin = join(hostDir, "main");
    await writeFile(hostBin, binary);
    await chmod(hostBin, 0o755);
    const container = await containerWithFile(marker);
    rootfs = (await run("podman", ["image", "mount", "localhost/kiln-c"])).stdout.trim();

    const n = ctx.quick ? 40 : 300;
    const nExec = ctx.quick ? 8 : 40;
    ctx.log(`figure 3: ${n} steps each, ${nExec} podman exec`);
    const step = { mode: "batch", options: { clean: "", build: "", exec: "./main" } };
    // Kiln and host rounds alternate, so load that drifts during the run hits both alike.
    const [kiln, host] = await timePair(
      n,
      {
        label: "HTTP batch run exec ./main (3 calls: clean, build, exec)",
        body: async () => {
          const r = await runToEnd(base, id, step);
          if (r.exitCode !== 0 || r.stdout !== "hello, world\n") throw new Error(`step: ${r.exitCode} ${r.stderr}`);
        },
      },
      { label: "child_process.spawn of the binary on the host", body: () => spawnWait(hostBin, []) },
    );
    const protocol = await time("HTTP batch run with every step empty (the 3 calls, no process)", n, async () => {
      const r = await runToEnd(base, id, { mode: "batch", options: { clean: "", build: "", exec: "" } });
      if (r.exitCode !== 0) throw new Error(`empty run: ${r.exitCode}`);
    });
    const bwrapArgs = ["--ro-bind", rootfs, "/", "--tmpfs", "/home", "--ro-bind", hostDir, "/home/work", "--proc", "/proc", "--dev", "/dev", "--unshare-all", "--die-with-parent", "--chdir", "/home/work", "/home/work/main"];
    const bwrap = rootfs ? await time("bwrap on the image rootfs (unshare-all)", n, () => spawnWait("bwrap", bwrapArgs)) : null;
    const exec = await time("podman exec <session container> ./main", nExec, () => spawnWait("podman", ["exec", "-w", "/home/work", "-u", "1000", container, "./main"]), { warmup: 1 });
    await expectOk(request(base, "DELETE", `/session/${id}`), "delete");
    return {
      rows: [
        row({
          id: "3",
          figure: "podman step exec ./main, existing session",
          kiln,
          baseline: host,
          others: [protocol, ...(bwrap ? [bwrap] : []), exec],
          ratio: kiln.median / host.median,
          value: kiln.median / host.median,
          valueLabel: `${(kiln.median / host.median).toFixed(2)}× host spawn`,
          limit: 1.5,
          better: "lower",
          target: "≤ 1.5× host spawn",
          notes: [`protocol floor (3 HTTP calls, no step) ${protocol.median.toFixed(2)} ms`, `podman exec ${exec.median.toFixed(1)} ms median${bwrap ? `, bwrap ${bwrap.median.toFixed(1)} ms` : ""}`],
        }),
      ],
    };
  } finally {
    if (rootfs) await run("podman", ["image", "unmount", "localhost/kiln-c"]).catch(() => undefined);
    await server.stop();
  }
}
