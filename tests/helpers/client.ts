// A small HTTP client for the API suites: builds requests, sends them to an app
// in-process (app.fetch) or to a real server URL, parses JSON and problem+json,
// drives an execute run to its end, and reads back multipart / tar / zip answers.
// Web-standard APIs plus tar-stream and zip.js only, so it runs on Node and Bun.

import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseMultipart } from "@remix-run/multipart-parser";
import tar from "tar-stream";
import { configure, Uint8ArrayReader, Uint8ArrayWriter, ZipReader } from "@zip.js/zip.js";
import { createApp, type KilnApp } from "../../src/app.ts";
import type { KilnConfigInput } from "../../src/config.ts";
import type { KernelFactory } from "../../src/kernels/kernel.ts";
import { scriptKernelFactory } from "./script-kernel.ts";

configure({ useWebWorkers: false });

export const PROBLEM_BASE = "https://api.backend.ai/probs/";
export const API_VERSION = "v8.20240915";
export const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export type Fetcher = (request: Request) => Response | Promise<Response>;
export type Query = Record<string, string | number | readonly string[] | undefined>;

export interface RequestOptions {
  /** A JSON body (sets content-type application/json unless headers say otherwise). */
  json?: unknown;
  /** A raw body. */
  body?: BodyInit;
  headers?: Record<string, string>;
  query?: Query;
}

/** A response read to the end. */
export interface ApiResponse {
  status: number;
  headers: Headers;
  contentType: string;
  bytes: Uint8Array;
  text: string;
  /** Parsed body when the content type is JSON (incl. problem+json), else undefined. */
  json: any;
}

export interface ExecResult {
  runId: string;
  status: string;
  exitCode: number | null;
  options: any;
  files: unknown[];
  console: [string, any][];
}

export interface RunLog {
  runId: string;
  results: ExecResult[];
  statuses: string[];
  final: ExecResult;
  /** Every stdout / stderr chunk of the whole run, concatenated. */
  stdout: string;
  stderr: string;
}

export interface UploadFile {
  filename: string;
  data: string | Uint8Array;
  /** Form field name; the server ignores it. Default "src". */
  name?: string;
  contentType?: string;
}

export class Client {
  constructor(
    readonly base: string,
    readonly fetcher: Fetcher,
  ) {}

  static forApp(app: KilnApp): Client {
    return new Client("http://kiln", (request) => app.fetch(request));
  }

  static forUrl(url: string): Client {
    return new Client(url, (request) => fetch(request));
  }

  url(path: string, query?: Query): string {
    const url = new URL(path, this.base);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const v of value) url.searchParams.append(key, v);
      else url.searchParams.append(key, String(value));
    }
    return url.toString();
  }

  /** Sends a request and returns the raw Response. */
  async raw(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const headers = new Headers(options.headers);
    let body: BodyInit | undefined = options.body;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      if (!headers.has("content-type")) headers.set("content-type", "application/json");
    }
    return this.fetcher(new Request(this.url(path, options.query), { method, headers, body }));
  }

  /** Sends a request and reads the whole answer. */
  async call(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse> {
    return readResponse(await this.raw(method, path, options));
  }

  get(path: string, options?: RequestOptions) {
    return this.call("GET", path, options);
  }
  post(path: string, options?: RequestOptions) {
    return this.call("POST", path, options);
  }

  // ---- sessions ----

  createSession(body: Record<string, unknown>, path = "/session"): Promise<ApiResponse> {
    return this.post(path, { json: body });
  }

  /** Creates a fresh script session and returns its id (asserts 201). */
  async newSession(extra: Record<string, unknown> = {}): Promise<string> {
    const res = await this.createSession({ lang: "script", clientSessionToken: uniqueName(), ...extra });
    assert.equal(res.status, 201, `create session: ${res.text}`);
    return res.json.sessionId as string;
  }

  info(id: string) {
    return this.get(`/session/${encodeURIComponent(id)}`);
  }

  destroy(id: string) {
    return this.call("DELETE", `/session/${encodeURIComponent(id)}`);
  }

  restart(id: string) {
    return this.call("PATCH", `/session/${encodeURIComponent(id)}`);
  }

  interrupt(id: string) {
    return this.post(`/session/${encodeURIComponent(id)}/interrupt`);
  }

  logs(id: string) {
    return this.get(`/session/${encodeURIComponent(id)}/logs`);
  }

  // ---- execute ----

  execute(id: string, body: Record<string, unknown>): Promise<ApiResponse> {
    return this.post(`/session/${encodeURIComponent(id)}`, { json: body });
  }

  /** One execute call that must answer 200; returns its result. */
  async exec(id: string, body: Record<string, unknown>): Promise<ExecResult> {
    const res = await this.execute(id, body);
    assert.equal(res.status, 200, `execute ${JSON.stringify(body).slice(0, 200)} → ${res.status} ${res.text.slice(0, 500)}`);
    assertResultShape(res.json?.result);
    return res.json.result as ExecResult;
  }

  /**
   * Runs code (query or batch) and keeps sending `continue` until the run ends
   * (finished or exec-timeout), feeding `inputs` to waiting-input answers.
   */
  async run(
    id: string,
    first: { mode?: string; code?: string; options?: unknown; runId?: string | null },
    opts: { inputs?: string[]; maxCalls?: number } = {},
  ): Promise<RunLog> {
    const inputs = [...(opts.inputs ?? [])];
    const results: ExecResult[] = [];
    let result = await this.exec(id, { mode: "query", code: "", runId: null, ...first });
    results.push(result);
    const runId = result.runId;
    const maxCalls = opts.maxCalls ?? 500;
    while (result.status !== "finished" && result.status !== "exec-timeout") {
      if (results.length >= maxCalls) assert.fail(`run ${runId} did not end after ${maxCalls} calls: ${JSON.stringify(results.map((r) => r.status))}`);
      if (result.status === "waiting-input") {
        const text = inputs.shift();
        if (text === undefined) assert.fail(`run ${runId} waits for input, none left`);
        result = await this.exec(id, { mode: "input", runId, code: text });
      } else {
        assert.ok(
          ["continued", "clean-finished", "build-finished"].includes(result.status),
          `unexpected status ${result.status}`,
        );
        result = await this.exec(id, { mode: "continue", runId, code: "" });
      }
      results.push(result);
    }
    return summarise(runId, results);
  }

  /** A query run to its end. */
  query(id: string, code: string, opts: { inputs?: string[]; runId?: string } = {}): Promise<RunLog> {
    return this.run(id, { mode: "query", code, runId: opts.runId ?? null }, opts);
  }

  /** A batch run to its end. */
  batch(id: string, options: Record<string, unknown>, runId: string | null = null): Promise<RunLog> {
    return this.run(id, { mode: "batch", code: "", options, runId });
  }

  // ---- files ----

  /** Uploads files as multipart/form-data built by hand (filenames byte-exact). */
  upload(id: string, files: UploadFile[]): Promise<ApiResponse> {
    const { body, contentType } = multipartFormData(files);
    return this.post(`/session/${encodeURIComponent(id)}/upload`, { body, headers: { "content-type": contentType } });
  }

  /** Uploads and asserts 204. */
  async put(id: string, files: Record<string, string | Uint8Array>): Promise<void> {
    const res = await this.upload(
      id,
      Object.entries(files).map(([filename, data]) => ({ filename, data })),
    );
    assert.equal(res.status, 204, `upload ${Object.keys(files).join(", ")}: ${res.status} ${res.text}`);
  }

  listFiles(id: string, path?: string): Promise<ApiResponse> {
    return this.get(`/session/${encodeURIComponent(id)}/files`, { query: { path } });
  }

  /** Lists a directory (asserts 200) and returns the parsed entries by filename. */
  async ls(id: string, path?: string): Promise<Map<string, FileEntry>> {
    const res = await this.listFiles(id, path);
    assert.equal(res.status, 200, `files ${path}: ${res.status} ${res.text}`);
    assert.equal(typeof res.json.files, "string", "files is a JSON string");
    const entries = JSON.parse(res.json.files) as FileEntry[];
    assert.ok(Array.isArray(entries));
    return new Map(entries.map((e) => [e.filename, e]));
  }

  /** Whether a path exists in the session, by listing its parent. */
  async exists(id: string, path: string): Promise<boolean> {
    const parts = path.split("/").filter(Boolean);
    const name = parts.pop()!;
    const res = await this.listFiles(id, parts.join("/") || undefined);
    if (res.status === 404) return false;
    assert.equal(res.status, 200, `files ${parts.join("/")}: ${res.status} ${res.text}`);
    return (JSON.parse(res.json.files) as FileEntry[]).some((e) => e.filename === name);
  }

  /** Every path (files and dirs) under the session root, recursively, e.g. ["a.txt", "src/", "src/b.txt"]. */
  async tree(id: string, dir = ""): Promise<string[]> {
    const out: string[] = [];
    for (const [name, entry] of await this.ls(id, dir || undefined)) {
      const path = dir ? `${dir}/${name}` : name;
      if (entry.mode.startsWith("d")) {
        out.push(path + "/");
        out.push(...(await this.tree(id, path)));
      } else out.push(path);
    }
    return out.sort();
  }

  downloadSingle(id: string, file: string): Promise<ApiResponse> {
    return this.get(`/session/${encodeURIComponent(id)}/download_single`, { query: { file } });
  }

  /** Raw bytes of one file via download_single (asserts 200). */
  async readFile(id: string, file: string): Promise<Uint8Array> {
    const res = await this.downloadSingle(id, file);
    assert.equal(res.status, 200, `download_single ${file}: ${res.status} ${res.text.slice(0, 300)}`);
    return res.bytes;
  }
}

export interface FileEntry {
  filename: string;
  mode: string;
  size: number;
  ctime: number;
  mtime: number;
  atime: number;
}

let nameCounter = 0;
/** A session name valid under Backend.AI's rules and unique within the process. */
export function uniqueName(prefix = "sess"): string {
  return `${prefix}-${process.pid}-${++nameCounter}-${Math.random().toString(36).slice(2, 8)}`;
}

export async function readResponse(res: Response): Promise<ApiResponse> {
  const bytes = new Uint8Array(await res.arrayBuffer());
  const contentType = res.headers.get("content-type") ?? "";
  const text = decoder.decode(bytes);
  let json: any;
  if (/[/+]json\b/i.test(contentType) && text.length > 0) {
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
  }
  return { status: res.status, headers: res.headers, contentType, bytes, text, json };
}

/**
 * Asserts an application/problem+json answer with Backend.AI's type name.
 * `msg` (string or RegExp) is matched against the problem's msg.
 */
export function assertProblem(
  res: ApiResponse,
  status: number,
  name: string,
  expect: { title?: string; msg?: string | RegExp } = {},
): void {
  const where = `${res.status} ${res.contentType} ${res.text.slice(0, 400)}`;
  assert.equal(res.status, status, `status: ${where}`);
  assert.match(res.contentType, /^application\/problem\+json\b/i, `content-type: ${where}`);
  assert.ok(res.json && typeof res.json === "object", `problem body: ${where}`);
  assert.equal(res.json.type, PROBLEM_BASE + name, `type: ${where}`);
  assert.equal(typeof res.json.title, "string", `title: ${where}`);
  if (expect.title !== undefined) assert.equal(res.json.title, expect.title, `title: ${where}`);
  if (expect.msg !== undefined) {
    assert.equal(typeof res.json.msg, "string", `msg: ${where}`);
    if (typeof expect.msg === "string") assert.ok(res.json.msg.includes(expect.msg), `msg should include ${JSON.stringify(expect.msg)}: ${where}`);
    else assert.match(res.json.msg, expect.msg, `msg: ${where}`);
  }
}

/** A problem+json answer with the given status, whatever its type name. */
export function assertAnyProblem(res: ApiResponse, status: number): void {
  const where = `${res.status} ${res.contentType} ${res.text.slice(0, 400)}`;
  assert.equal(res.status, status, `status: ${where}`);
  assert.match(res.contentType, /^application\/problem\+json\b/i, `content-type: ${where}`);
  assert.ok(typeof res.json?.type === "string" && res.json.type.startsWith(PROBLEM_BASE), `type: ${where}`);
  assert.equal(typeof res.json.title, "string", `title: ${where}`);
}

export function assertResultShape(result: any): asserts result is ExecResult {
  assert.ok(result && typeof result === "object", `result object: ${JSON.stringify(result)}`);
  assert.equal(typeof result.runId, "string");
  assert.equal(typeof result.status, "string");
  assert.ok(result.exitCode === null || Number.isInteger(result.exitCode), `exitCode: ${result.exitCode}`);
  assert.ok("options" in result, "options key present");
  assert.deepEqual(result.files, []);
  assert.ok(Array.isArray(result.console), "console is a list");
  for (const item of result.console) {
    assert.ok(Array.isArray(item) && item.length === 2, `console item: ${JSON.stringify(item)}`);
    assert.ok(["stdout", "stderr", "media", "html", "log"].includes(item[0]), `console type ${item[0]}`);
  }
}

function summarise(runId: string, results: ExecResult[]): RunLog {
  let stdout = "";
  let stderr = "";
  for (const r of results) {
    for (const [kind, data] of r.console) {
      if (kind === "stdout") stdout += data;
      if (kind === "stderr") stderr += data;
    }
  }
  return { runId, results, statuses: results.map((r) => r.status), final: results[results.length - 1]!, stdout, stderr };
}

/** Joins every stdout item of one result. */
export function stdoutOf(result: ExecResult): string {
  return result.console.filter(([k]) => k === "stdout").map(([, d]) => d as string).join("");
}

// ---- multipart/form-data by hand ----

/** Builds a multipart/form-data body; filenames go into the header verbatim (UTF-8). */
export function multipartFormData(files: UploadFile[], boundary = `----kilnTest${Math.random().toString(16).slice(2)}`): {
  body: Uint8Array<ArrayBuffer>;
  contentType: string;
} {
  const chunks: Uint8Array[] = [];
  for (const f of files) {
    const head =
      `--${boundary}\r\n` +
      `Content-Disposition: form-data; name="${f.name ?? "src"}"; filename="${f.filename}"\r\n` +
      `Content-Type: ${f.contentType ?? "application/octet-stream"}\r\n\r\n`;
    chunks.push(encoder.encode(head));
    chunks.push(typeof f.data === "string" ? encoder.encode(f.data) : f.data);
    chunks.push(encoder.encode("\r\n"));
  }
  chunks.push(encoder.encode(`--${boundary}--\r\n`));
  return { body: concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

export function concat(chunks: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

export function bytesOf(text: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(text);
}

export function textOf(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/** Every byte value 0..255, then some more, as a binary test file. */
export function binaryBlob(size = 4096): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 7 + (i >> 8)) & 0xff;
  return out;
}

// ---- reading download answers ----

export interface MixedPart {
  headers: Record<string, string | undefined>;
  body: Uint8Array;
}

/** The boundary parameter of a multipart content type. */
export function boundaryOf(contentType: string): string {
  const m = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  assert.ok(m, `no boundary in ${contentType}`);
  return (m[1] ?? m[2])!;
}

export function parseMixed(res: ApiResponse): MixedPart[] {
  assert.match(res.contentType, /^multipart\/mixed\s*;/i, `content-type ${res.contentType}`);
  const boundary = boundaryOf(res.contentType);
  const parts: MixedPart[] = [];
  for (const part of parseMultipart(res.bytes, { boundary, maxFileSize: 64 * 1024 * 1024, maxTotalSize: 256 * 1024 * 1024 })) {
    parts.push({ headers: { ...part.headers }, body: part.bytes });
  }
  return parts;
}

export interface TarEntry {
  name: string;
  type: string;
  mode: number;
  size: number;
  linkname?: string | null;
  data: Uint8Array;
}

export async function untar(bytes: Uint8Array): Promise<TarEntry[]> {
  const extract = tar.extract();
  const entries: TarEntry[] = [];
  const reading = (async () => {
    for await (const entry of extract) {
      const chunks: Uint8Array[] = [];
      for await (const chunk of entry) chunks.push(chunk as Uint8Array);
      entries.push({
        name: entry.header.name,
        type: entry.header.type ?? "file",
        mode: entry.header.mode ?? 0,
        size: entry.header.size ?? 0,
        linkname: entry.header.linkname,
        data: concat(chunks),
      });
    }
  })();
  extract.end(Buffer.from(bytes));
  await reading;
  return entries;
}

/** Tar entries keyed by name with any "./" prefix and trailing "/" removed. */
export function byName(entries: TarEntry[]): Map<string, TarEntry> {
  return new Map(entries.map((e) => [e.name.replace(/^\.\//, "").replace(/\/$/, ""), e]));
}

export async function unzip(bytes: Uint8Array): Promise<Map<string, { directory: boolean; data: Uint8Array }>> {
  const reader = new ZipReader(new Uint8ArrayReader(bytes));
  const out = new Map<string, { directory: boolean; data: Uint8Array }>();
  for (const entry of await reader.getEntries()) {
    const name = entry.filename.replace(/^\.\//, "").replace(/\/$/, "");
    if (entry.directory) out.set(name, { directory: true, data: new Uint8Array() });
    else out.set(name, { directory: false, data: await entry.getData!(new Uint8ArrayWriter()) });
  }
  await reader.close();
  return out;
}

// ---- test apps ----

export interface TestEnv {
  app: KilnApp;
  client: Client;
  factory: ReturnType<typeof scriptKernelFactory>;
  close(): Promise<void>;
}

export interface EnvOptions {
  config?: Partial<KilnConfigInput>;
  vfs?: "memory" | "disk";
  /** Extra kernel factories besides the script kernel. */
  extraKernels?: KernelFactory[];
}

/** An app with the script kernel (memory or disk backed), driven in-process. */
export async function makeEnv(options: EnvOptions = {}): Promise<TestEnv> {
  const vfs = options.vfs ?? "memory";
  const dataDir = vfs === "disk" ? await mkdtemp(join(tmpdir(), "kiln-api-test-")) : undefined;
  const factory = scriptKernelFactory({ vfs });
  const app = createApp({
    config: { flushIntervalMs: 150, ...(dataDir ? { dataDir } : {}), ...options.config },
    kernels: [factory, ...(options.extraKernels ?? [])],
  });
  return {
    app,
    client: Client.forApp(app),
    factory,
    async close() {
      try {
        await app.close();
      } finally {
        if (dataDir) await rm(dataDir, { recursive: true, force: true });
      }
    },
  };
}

/** The two VFS backends the file suites run against. */
export const BACKENDS = ["memory", "disk"] as const;

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
