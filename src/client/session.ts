// KilnSession: every per-session endpoint of README "Endpoints", typed. A handle
// holds no state but the session's reference (UUID or name) and the transport.

import { KilnError } from "./errors.ts";
import type { Http } from "./http.ts";
import { boundaryOf, readMultipart } from "./multipart.ts";
import { runEvents, type RunEvent, type RunJob, type RunOptions } from "./run.ts";
import { counted, Download, filenameOf, toDownload, uploadBody, type UploadFile } from "./transfer.ts";
import type { ExecuteRequest, ExecuteResult, FileEntry, ProgressListener, SessionInfo } from "./types.ts";

export interface TransferOptions {
  onProgress?: ProgressListener;
  signal?: AbortSignal;
}

export class KilnSession {
  constructor(
    private readonly http: Http,
    /** The session's UUID, or the name it was opened by: the server takes either. */
    readonly id: string,
    /** The session's name, when known (after createSession). */
    readonly name?: string,
    /** After createSession: false when a live session of that name was reused. */
    readonly created?: boolean,
  ) {}

  private path(suffix = ""): string {
    return `/session/${encodeURIComponent(this.id)}${suffix}`;
  }

  info(): Promise<SessionInfo> {
    return this.http.json("GET", this.path());
  }

  /** Destroys the session, its files and processes; resolves with the kernel's last statistics. */
  async destroy(): Promise<Record<string, number>> {
    return (await this.http.json<{ stats: Record<string, number> }>("DELETE", this.path())).stats;
  }

  /** Restarts the kernel (REPL state is lost), keeping the files. */
  restart(): Promise<void> {
    return this.http.empty("PATCH", this.path());
  }

  /** Stops the running step; its run ends with exit code 130. */
  interrupt(): Promise<void> {
    return this.http.empty("POST", this.path("/interrupt"));
  }

  /** The last 65,536 characters of the session's console output. */
  async logs(): Promise<string> {
    return (await this.http.json<{ result: { logs: string } }>("GET", this.path("/logs"))).result.logs;
  }

  async complete(code: string, options: Record<string, unknown> = {}): Promise<string[]> {
    const answer = await this.http.json<{ result: { completions: string[] } }>("POST", this.path("/complete"), { json: { code, options } });
    return answer.result.completions;
  }

  /** One execute call, as Backend.AI's API has it; run() drives a whole run. */
  async execute(request: ExecuteRequest, signal?: AbortSignal): Promise<ExecuteResult> {
    const answer = await this.http.json<{ result?: ExecuteResult }>("POST", this.path(), { json: request, signal });
    if (!answer.result || typeof answer.result.status !== "string") {
      throw new KilnError({ status: 200, title: "The execute answer has no result", problem: "bad-response" });
    }
    return answer.result;
  }

  /**
   * Runs a query or a batch (clean → build → exec) and yields its events as they arrive,
   * answering input requests with `options.input`:
   *
   *   for await (const e of session.run({ mode: "batch", build: "*", exec: "*" })) …
   */
  run(job: RunJob, options?: RunOptions): AsyncGenerator<RunEvent, void, undefined> {
    return runEvents(this, job, options);
  }

  /** Uploads files in one request: all land or none (≤ 20 files of ≤ 1 MiB on a default server). */
  async upload(files: readonly UploadFile[], options: TransferOptions = {}): Promise<void> {
    const body = await uploadBody(files, options.onProgress);
    await this.http.empty("POST", this.path("/upload"), { body, signal: options.signal });
  }

  /** A directory's entries; `path` is relative to /home/work or absolute under it (default the root). */
  async listFiles(path?: string): Promise<FileEntry[]> {
    const answer = await this.http.json<{ files: string }>("GET", this.path("/files"), { query: { path } });
    let entries: Omit<FileEntry, "kind">[];
    try {
      entries = JSON.parse(answer.files) as Omit<FileEntry, "kind">[];
    } catch (error) {
      throw new KilnError({ status: 200, title: "The file list is not JSON", problem: "bad-response", cause: error });
    }
    return entries.map((e) => ({ ...e, kind: e.mode.startsWith("d") ? "dir" : e.mode.startsWith("l") ? "symlink" : "file" }));
  }

  /**
   * Paths (files or directories, ≤ 5 on a default server) as tar archives, one per path,
   * named "<base name>.tar", streamed: read each one's body before asking for the next.
   */
  async *download(paths: readonly string[], options: TransferOptions = {}): AsyncGenerator<Download, void, undefined> {
    const response = await this.http.request("GET", this.path("/download"), { query: { files: paths }, signal: options.signal });
    const boundary = boundaryOf(response.headers.get("content-type") ?? "");
    if (!response.body || boundary === null) {
      await response.body?.cancel();
      throw new KilnError({ status: response.status, title: "The download is not multipart/mixed", problem: "bad-response" });
    }
    const body = options.onProgress ? counted(response.body, null, options.onProgress) : response.body;
    let index = 0;
    for await (const part of readMultipart(body, boundary)) {
      const name = filenameOf(part.headers.get("content-disposition")) ?? `${paths[index] ?? "part"}.tar`;
      index++;
      yield new Download(name, null, part.body);
    }
  }

  /** Paths as one zip archive, each path a top-level entry named by its base name. */
  async downloadZip(paths: readonly string[], options: TransferOptions = {}): Promise<Download> {
    const response = await this.http.request("GET", this.path("/download"), { query: { files: paths, format: "zip" }, signal: options.signal });
    return toDownload(response, `${this.name ?? this.id}.zip`, options.onProgress);
  }

  /** One file's raw bytes. */
  async downloadSingle(path: string, options: TransferOptions = {}): Promise<Download> {
    const response = await this.http.request("GET", this.path("/download_single"), { query: { file: path }, signal: options.signal });
    return toDownload(response, path.slice(path.lastIndexOf("/") + 1), options.onProgress);
  }
}
