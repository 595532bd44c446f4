// Figure 4: a C hello world batch run end to end over HTTP in an existing session
// (upload main.c, build "*", exec ./main) against `gcc main.c -o main && ./main` on the host.

import { spawn } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createSession, expectOk, request, runToEnd } from "./lib/http.ts";
import { HELLO_C, upload } from "./lib/podman.ts";
import { run, startServer } from "./lib/proc.ts";
import { timePair } from "./lib/stats.ts";
import { row, type Ctx, type FigureResult } from "./lib/types.ts";

export async function figure4(ctx: Ctx): Promise<FigureResult> {
  if (ctx.podmanUnavailable) return { skipped: ctx.podmanUnavailable };
  const server = await startServer({ kernels: ["podman"], podmanLanguages: ["c"], dataDir: join(ctx.tmp, "fig4-data"), podmanPoolSize: 1 });
  try {
    if (!server.images.includes("c")) return { skipped: `the podman C kernel is unavailable: ${server.notes.join("; ")}` };
    const base = server.url;
    const id = await createSession(base, { lang: "c" });
    const hostDir = join(ctx.tmp, "fig4-host");
    await mkdir(hostDir, { recursive: true });
    await writeFile(join(hostDir, "main.c"), HELLO_C);
    const hostGcc = () =>
      new Promise<void>((resolve, reject) => {
        const child = spawn("sh", ["-c", "gcc main.c -o main && ./main"], { cwd: hostDir, stdio: ["ignore", "pipe", "inherit"] });
        let out = "";
        child.stdout.on("data", (d) => (out += d));
        child.on("close", (code) => (code === 0 && out === "hello, world\n" ? resolve() : reject(new Error(`host gcc: ${code}`))));
      });
    const n = ctx.quick ? 10 : 60;
    ctx.log(`figure 4: ${n} runs each`);
    const [kiln, host] = await timePair(
      n,
      {
        label: "upload main.c + batch build * + exec ./main (HTTP)",
        body: async () => {
          await upload(base, id, [{ name: "main.c", data: HELLO_C }]);
          const r = await runToEnd(base, id, { mode: "batch", options: { build: "*", exec: "./main" } });
          if (r.exitCode !== 0 || r.stdout !== "hello, world\n") throw new Error(`batch: ${r.exitCode} ${r.stderr}`);
        },
      },
      { label: "sh -c 'gcc main.c -o main && ./main' on the host", body: hostGcc },
      2,
    );
    // Where the time goes: the upload alone, and the build step alone (gcc in the container).
    const { time } = await import("./lib/stats.ts");
    const uploadOnly = await time("upload main.c alone (HTTP)", n, () => upload(base, id, [{ name: "main.c", data: HELLO_C }]), { warmup: 1 });
    const buildOnly = await time("batch build * only (gcc in the container, HTTP)", n, async () => {
      const r = await runToEnd(base, id, { mode: "batch", options: { build: "*", exec: "" } });
      if (r.exitCode !== 0) throw new Error(`build: ${r.exitCode} ${r.stderr}`);
    }, { warmup: 1 });
    const hostGccOnly = await time("gcc main.c -o main alone on the host", n, () => run("gcc", ["main.c", "-o", "main"], { cwd: hostDir }), { warmup: 1 });
    const versions = [
      (await run("gcc", ["--version"])).stdout.split("\n")[0],
      (await runToEnd(base, id, { mode: "batch", options: { exec: "gcc --version" } })).stdout.split("\n")[0],
    ];
    await expectOk(request(base, "DELETE", `/session/${id}`), "delete");
    return {
      rows: [
        row({
          id: "4",
          figure: "C hello batch: upload, build *, exec",
          kiln,
          baseline: host,
          ratio: kiln.median / host.median,
          value: kiln.median / host.median,
          valueLabel: `${(kiln.median / host.median).toFixed(2)}× host`,
          limit: 1.3,
          better: "lower",
          target: "≤ 1.3× host gcc && ./main",
          others: [uploadOnly, buildOnly, hostGccOnly],
          notes: [`host gcc: ${versions[0]}; image gcc: ${versions[1]}`],
        }),
      ],
    };
  } finally {
    await server.stop();
  }
}
