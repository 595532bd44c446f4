// npm run loadtest: N concurrent clients for T seconds against a `kiln serve` started
// here on loopback (a child process, so its memory is measured apart from the clients).
// Each client loops: create a session, upload files with known SHA-256, run a batch
// program and a query, download every file (download_single and a tar) and verify every
// byte, delete. Bounded in count and time; never part of `npm test`.
//
//   npm run loadtest -- --clients 50 --seconds 60 [--langs javascript,python] [--files 3] [--json]
//   (or LOADTEST_CLIENTS, LOADTEST_SECONDS, LOADTEST_LANGS)

import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { parseMultipart } from "@remix-run/multipart-parser";
import tar from "tar-stream";

const { values } = parseArgs({
  options: {
    clients: { type: "string" },
    seconds: { type: "string" },
    langs: { type: "string" },
    files: { type: "string" },
    settle: { type: "string" },
    rounds: { type: "string" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  console.log("npm run loadtest -- [--clients 50] [--seconds 60] [--langs javascript[,bash,python,…]] [--files 3] [--settle 15] [--rounds 1] [--json]");
  process.exit(0);
}
const CLIENTS = bounded(Number(values.clients ?? process.env.LOADTEST_CLIENTS ?? 50), 1, 500, "clients");
const SECONDS = bounded(Number(values.seconds ?? process.env.LOADTEST_SECONDS ?? 60), 1, 3600, "seconds");
const LANGS = (values.langs ?? process.env.LOADTEST_LANGS ?? "javascript").split(",").map((s) => s.trim()).filter(Boolean);
const FILES = bounded(Number(values.files ?? 3), 1, 20, "files");
const SETTLE = bounded(Number(values.settle ?? 15), 0, 600, "settle");
/** Rounds of T seconds each, with a settle pause and an RSS reading after each: a leak grows round on round. */
const ROUNDS = bounded(Number(values.rounds ?? 1), 1, 20, "rounds");

function bounded(n: number, min: number, max: number, what: string): number {
  if (!Number.isInteger(n) || n < min || n > max) {
    console.error(`loadtest: --${what} must be a whole number from ${min} to ${max}`);
    process.exit(2);
  }
  return n;
}

// ---- the server under test ----

const dataDir = mkdtempSync(join(tmpdir(), "kiln-loadtest-"));
const bin = fileURLToPath(new URL("../bin/kiln.js", import.meta.url));
const server = spawn(
  process.execPath,
  [bin, "serve", "--host", "127.0.0.1", "--port", "0", "--data-dir", dataDir, "--flush-interval-ms", "2000", "--step-timeout-ms", "20000", "--log-level", "warn"],
  { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, KILN_PORT: undefined, PORT: undefined } },
);
let serverLog = "";
server.stdout.on("data", (d) => (serverLog += d));
server.stderr.on("data", (d) => (serverLog += d));
process.on("exit", () => server.exitCode === null && server.kill("SIGKILL"));
process.on("uncaughtException", (error) => {
  console.error("loadtest:", error);
  server.kill("SIGTERM");
  setTimeout(() => process.exit(1), 5000).unref();
});
const serverExit = new Promise<number | null>((resolve) => server.on("exit", (code) => resolve(code)));
const base = await new Promise<string>((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`kiln serve did not start:\n${serverLog}`)), 60_000);
  server.stdout.on("data", () => {
    const m = /listening on (http:\/\/\S+)/.exec(serverLog);
    if (m) {
      clearTimeout(timer);
      resolve(m[1]!);
    }
  });
  void serverExit.then(() => reject(new Error(`kiln serve exited:\n${serverLog}`)));
});
if (!/^http:\/\/(127\.0\.0\.1|\[::1\]|localhost):/.test(base)) throw new Error(`not loopback: ${base}`);

function procs(): number[] {
  // The wrapper, the server and its descendants (the isolate sandbox process).
  const parents = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      parents.set(Number(name), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // gone
    }
  }
  const out = [server.pid!];
  for (let i = 0; i < out.length; i++) for (const [pid, ppid] of parents) if (ppid === out[i]) out.push(pid);
  return out;
}

function rssByProcess(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const pid of procs()) {
    try {
      const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      const role = pid === server.pid ? "wrapper" : cmd.includes("isolate/child") ? "isolate-sandbox" : cmd.includes("cli.ts") ? "server" : "other";
      out[role] = (out[role] ?? 0) + Math.round(Number(m?.[1] ?? 0) / 1024);
    } catch {
      // gone
    }
  }
  return out;
}

function rssMiB(): number {
  return Object.values(rssByProcess()).reduce((a, b) => a + b, 0);
}

// ---- measurements ----

const latencies: number[] = [];
const byStatus = new Map<string, number>();
const byRoute = new Map<string, number[]>();
let requests = 0;
let filesUploaded = 0;
let filesVerified = 0;
let lost = 0;
let corrupted = 0;
let runsWrong = 0;
let sessions = 0;
const failures: string[] = [];

async function call(route: string, method: string, path: string, init: { json?: unknown; body?: BodyInit; headers?: Record<string, string> } = {}) {
  const headers = new Headers(init.headers);
  let body = init.body;
  if (init.json !== undefined) {
    body = JSON.stringify(init.json);
    headers.set("content-type", "application/json");
  }
  const started = performance.now();
  let status = "network-error";
  try {
    const res = await fetch(base + path, { method, headers, body, signal: AbortSignal.timeout(60_000) });
    const bytes = new Uint8Array(await res.arrayBuffer());
    status = String(res.status);
    return { status: res.status, contentType: res.headers.get("content-type") ?? "", bytes, text: () => new TextDecoder().decode(bytes), json: () => JSON.parse(new TextDecoder().decode(bytes)) };
  } catch (error) {
    if (failures.length < 20) failures.push(`${method} ${route}: ${error instanceof Error ? error.message : String(error)}`);
    return { status: 0, contentType: "", bytes: new Uint8Array(), text: () => "", json: () => ({}) };
  } finally {
    const ms = performance.now() - started;
    requests++;
    latencies.push(ms);
    (byRoute.get(route) ?? byRoute.set(route, []).get(route)!).push(ms);
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
  }
}

function note(what: string): void {
  if (failures.length < 20) failures.push(what);
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

async function untar(bytes: Uint8Array): Promise<Map<string, Uint8Array>> {
  const extract = tar.extract();
  const out = new Map<string, Uint8Array>();
  const done = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      if (entry.header.type === "file") out.set(entry.header.name.replace(/^[^/]+\//, ""), Buffer.concat(chunks));
    }
  })();
  extract.end(Buffer.from(bytes));
  await done;
  return out;
}

function program(lang: string): { files: Record<string, string>; batch: Record<string, string>; query: string; expect: string } {
  switch (lang) {
    case "javascript":
      return {
        files: { "main.js": "const fs = require('fs'); let n = 0; for (const f of fs.readdirSync('data')) n += fs.readFileSync('data/' + f).length; console.log('bytes', n);\n" },
        batch: { build: "", exec: "node main.js" },
        query: "console.log(6 * 7)",
        expect: "42\n",
      };
    case "python":
      return {
        files: { "main.py": "import os\nprint('bytes', sum(os.path.getsize('data/' + f) for f in os.listdir('data')))\n" },
        batch: { build: "", exec: "python3 main.py" },
        query: "print(6 * 7)",
        expect: "42\n",
      };
    default:
      return {
        files: {},
        batch: { build: "", exec: "echo bytes $(cat data/* | wc -c)" },
        query: "echo 42",
        expect: "42\n",
      };
  }
}

async function run(id: string, first: Record<string, unknown>): Promise<string | null> {
  let res = await call("execute", "POST", `/session/${id}`, { json: first });
  let stdout = "";
  for (let calls = 0; calls < 100; calls++) {
    if (res.status !== 200) return null;
    const result = res.json().result;
    for (const [kind, data] of result.console) if (kind === "stdout") stdout += data;
    if (result.status === "finished" || result.status === "exec-timeout") return result.exitCode === 0 ? stdout : null;
    res = await call("execute", "POST", `/session/${id}`, { json: { mode: "continue", runId: result.runId, code: "" } });
  }
  return null;
}

async function client(n: number, deadline: number): Promise<void> {
  for (let round = 0; Date.now() < deadline; round++) {
    const lang = LANGS[(n + round) % LANGS.length]!;
    const name = `load-${n}-${round}-${process.pid}`;
    const created = await call("create", "POST", "/session", { json: { lang, clientSessionToken: name } });
    if (created.status !== 201) {
      note(`create ${lang}: ${created.status} ${created.text().slice(0, 200)}`);
      await new Promise((r) => setTimeout(r, 200));
      continue;
    }
    sessions++;
    const id = created.json().sessionId as string;
    try {
      const prog = program(lang);
      const files = new Map<string, Uint8Array<ArrayBuffer>>();
      for (let i = 0; i < FILES; i++) files.set(`data/f${i}.bin`, new Uint8Array(randomBytes(1024 + Math.floor(Math.random() * 128 * 1024))));
      const form = new FormData();
      for (const [path, data] of files) form.append("src", new Blob([data]), path);
      for (const [path, text] of Object.entries(prog.files)) form.append("src", new Blob([text]), path);
      const up = await call("upload", "POST", `/session/${id}/upload`, { body: form });
      if (up.status !== 204) {
        note(`upload: ${up.status} ${up.text().slice(0, 200)}`);
        continue;
      }
      filesUploaded += files.size;
      const total = [...files.values()].reduce((s, b) => s + b.length, 0);
      const batch = await run(id, { mode: "batch", runId: `b${round}`, code: "", options: prog.batch });
      if (batch === null || !batch.includes(`bytes ${total}`)) {
        runsWrong++;
        note(`batch ${lang}: ${JSON.stringify(batch)} (expected bytes ${total})`);
      }
      const query = await run(id, { mode: "query", runId: `q${round}`, code: prog.query });
      if (query !== prog.expect) {
        runsWrong++;
        note(`query ${lang}: ${JSON.stringify(query)}`);
      }
      for (const [path, data] of files) {
        const res = await call("download_single", "GET", `/session/${id}/download_single?file=${encodeURIComponent(path)}`);
        if (res.status === 404) lost++;
        else if (res.status !== 200 || sha(res.bytes) !== sha(data)) corrupted++;
        else filesVerified++;
      }
      const dl = await call("download", "GET", `/session/${id}/download?files=data`);
      if (dl.status === 200) {
        const boundary = /boundary="?([^";]+)"?/.exec(dl.contentType)?.[1] ?? "";
        let entries = new Map<string, Uint8Array>();
        try {
          for (const part of parseMultipart(dl.bytes, { boundary, maxFileSize: 64 << 20, maxTotalSize: 256 << 20 })) entries = await untar(part.bytes);
        } catch (error) {
          note(`download: unreadable answer: ${error instanceof Error ? error.message : String(error)}`);
        }
        for (const [path, data] of files) {
          const got = entries.get(path.slice("data/".length));
          if (!got) lost++;
          else if (sha(got) !== sha(data)) corrupted++;
          else filesVerified++;
        }
      } else note(`download: ${dl.status}`);
    } finally {
      const del = await call("delete", "DELETE", `/session/${id}`);
      if (del.status !== 200) note(`delete: ${del.status} ${del.text().slice(0, 200)}`);
    }
  }
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! * 10) / 10;
}

// ---- the run ----

const rssStartByProcess = rssByProcess();
const rssStart = rssMiB();
let rssPeak = rssStart;
const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssMiB())), 500);
const started = Date.now();
console.error(`loadtest: ${CLIENTS} clients × ${SECONDS} s × ${ROUNDS} round(s), ${LANGS.join(", ")}, against ${base}`);
const rssAfterRound: number[] = [];
let busyMs = 0;
for (let round = 0; round < ROUNDS; round++) {
  const roundStart = Date.now();
  const deadline = roundStart + SECONDS * 1000;
  await Promise.all(Array.from({ length: CLIENTS }, (_, n) => client(n + round * CLIENTS, deadline)));
  busyMs += Date.now() - roundStart;
  // Let the server settle after the last delete, then look at its memory again.
  await new Promise((r) => setTimeout(r, SETTLE * 1000));
  rssAfterRound.push(rssMiB());
}
const elapsed = busyMs / 1000;
const rssEndByProcess = rssByProcess();
const rssEnd = rssMiB();
clearInterval(sampler);
const info = await call("info", "GET", "/");
server.kill("SIGTERM");
const exitCode = await serverExit;
rmSync(dataDir, { recursive: true, force: true });

const sorted = [...latencies].sort((a, b) => a - b);
const report = {
  clients: CLIENTS,
  seconds: SECONDS,
  elapsed,
  langs: LANGS,
  requests,
  requestsPerSecond: Math.round(requests / elapsed),
  sessions,
  byStatus: Object.fromEntries([...byStatus].sort()),
  errors5xx: [...byStatus].filter(([s]) => s.startsWith("5")).reduce((n, [, c]) => n + c, 0),
  latencyMs: { p50: pct(sorted, 50), p99: pct(sorted, 99), max: pct(sorted, 100) },
  latencyByRouteMs: Object.fromEntries([...byRoute].map(([r, l]) => {
    const s = [...l].sort((a, b) => a - b);
    return [r, { n: s.length, p50: pct(s, 50), p99: pct(s, 99) }];
  })),
  files: { uploaded: filesUploaded, verified: filesVerified, lost, corrupted },
  runsWrong,
  rssMiB: { start: rssStart, peak: rssPeak, end: rssEnd, afterEachRound: rssAfterRound, startByProcess: rssStartByProcess, endByProcess: rssEndByProcess },
  serverAnsweredAfter: info.status,
  serverExitCode: exitCode,
  failures,
};
if (values.json) console.log(JSON.stringify(report, null, 2));
else {
  console.log(`requests      ${report.requests} in ${elapsed.toFixed(1)} s (${report.requestsPerSecond}/s), ${sessions} sessions`);
  console.log(`by status     ${JSON.stringify(report.byStatus)}  (5xx: ${report.errors5xx})`);
  console.log(`latency       p50 ${report.latencyMs.p50} ms, p99 ${report.latencyMs.p99} ms, max ${report.latencyMs.max} ms`);
  for (const [route, l] of Object.entries(report.latencyByRouteMs)) console.log(`  ${route.padEnd(16)} n=${l.n} p50 ${l.p50} ms p99 ${l.p99} ms`);
  console.log(`files         ${filesUploaded} uploaded, ${filesVerified} verified downloads, ${lost} lost, ${corrupted} corrupted; ${runsWrong} wrong runs`);
  console.log(`server RSS    start ${rssStart} MiB, peak ${rssPeak} MiB, end ${rssEnd} MiB (${SETTLE} s after the last delete)`);
  if (ROUNDS > 1) console.log(`  after each round ${rssAfterRound.join(", ")} MiB`);
  console.log(`  by process  start ${JSON.stringify(rssStartByProcess)}, end ${JSON.stringify(rssEndByProcess)}`);
  console.log(`server        answered ${info.status} at the end, exit code ${exitCode} after SIGTERM`);
  for (const f of failures) console.log(`  failure: ${f}`);
}
const ok = report.errors5xx === 0 && lost === 0 && corrupted === 0 && runsWrong === 0 && exitCode === 0 && (byStatus.get("network-error") ?? 0) === 0;
process.exit(ok ? 0 : 1);
