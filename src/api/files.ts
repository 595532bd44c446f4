// Session files over Backend.AI's routes: upload (multipart/form-data), files
// (a listing), download (multipart/mixed of tar archives, or one zip) and
// download_single (raw bytes). Every client path goes through vfs/paths.ts.

import { requestOwner } from "./auth.ts";
import { Hono, type Context } from "hono";
import type { BlankEnv } from "hono/types";
import * as v from "valibot";
import { tarStream } from "../archive/tar.ts";
import { contentDisposition, multipartMixed, readUpload } from "../archive/multipart.ts";
import { primedRead } from "../archive/primed.ts";
import { zipStream } from "../archive/zip.ts";
import type { KilnConfig } from "../config.ts";
import type { Registry } from "../sessions/registry.ts";
import { baseName, toSessionPath, toWorkPath } from "../vfs/paths.ts";
import type { Stat, Vfs } from "../vfs/vfs.ts";
import { invalidParams, notFound, type ProblemName } from "./problem.ts";
import type { RouteDoc, RouteDocs } from "./route-doc.ts";
import { SessionParams } from "./sessions.ts";
import { parse, readJson } from "./validate.ts";

const ClientPath = v.pipe(v.string(), v.maxLength(4096));

export const FilesSchema = v.looseObject({ path: v.optional(ClientPath, "/home/work") });

export const DownloadSchema = v.looseObject({
  files: v.pipe(
    v.union([ClientPath, v.array(ClientPath)], "must be a path or a list of paths"),
    v.transform((f) => (Array.isArray(f) ? f : [f])),
    v.minLength(1, "name at least one path"),
  ),
  format: v.optional(v.picklist(["tar", "zip"], 'must be "tar" or "zip"'), "tar"),
});

export const DownloadSingleSchema = v.looseObject({ file: ClientPath });

export const FileListSchema = v.object({
  files: v.pipe(v.string(), v.description("A JSON list of {filename, mode, size, ctime, mtime, atime}, as Backend.AI's agent answers.")),
  folder_path: v.string(),
  abspath: v.string(),
  errors: v.string(),
});

const READ_PROBLEMS: ProblemName[] = ["invalid-api-params", "object-not-found", "payload-too-large", "unsupported-media-type"];

const DOWNLOAD: RouteDoc = {
  summary: "Download paths",
  description:
    "Up to --download-max-paths paths (files may also be comma-joined): multipart/mixed of one tar per path, " +
    "or one zip with format=zip or Accept: application/zip. Parameters come as a query (GET) or a JSON body (POST).",
  tag: "files",
  params: SessionParams,
  responses: {
    200: {
      description: "The archives, streamed.",
      media: { "multipart/mixed": { description: "One application/x-tar part per path." }, "application/zip": { description: "One zip." } },
    },
  },
  problems: READ_PROBLEMS,
};

const DOWNLOAD_SINGLE: RouteDoc = {
  summary: "Download a file",
  description: "Parameters come as a query (GET) or a JSON body (POST).",
  tag: "files",
  params: SessionParams,
  responses: { 200: { description: "The file's bytes.", media: { "application/octet-stream": {} } } },
  problems: READ_PROBLEMS,
};

export const fileDocs: RouteDocs = {
  "POST /session/{id}/upload": {
    summary: "Upload files",
    description: "All or nothing. Directories are created; existing files are replaced.",
    tag: "files",
    params: SessionParams,
    body: {
      media: {
        "multipart/form-data": {
          type: "object",
          description:
            "Parts of any field name, each file's filename its path under /home/work (percent-encoded names are decoded): " +
            "up to --upload-max-files files of up to --upload-max-file-bytes each.",
          additionalProperties: { type: "array", items: { contentMediaType: "application/octet-stream" } },
        },
      },
    },
    responses: { 204: { description: "Every file was written." } },
    problems: ["invalid-api-params", "object-not-found", "quota-exceeded"],
  },
  "GET /session/{id}/files": {
    summary: "List a directory",
    description: "path comes as a query, or as a JSON body as Backend.AI 24.09's client sends it (Node only).",
    tag: "files",
    params: SessionParams,
    query: FilesSchema,
    responses: { 200: { description: "The directory's entries.", json: FileListSchema } },
    problems: READ_PROBLEMS,
  },
  "GET /session/{id}/download": { ...DOWNLOAD, query: DownloadSchema },
  "POST /session/{id}/download": { ...DOWNLOAD, body: { json: DownloadSchema } },
  "GET /session/{id}/download_single": { ...DOWNLOAD_SINGLE, query: DownloadSingleSchema },
  "POST /session/{id}/download_single": { ...DOWNLOAD_SINGLE, body: { json: DownloadSingleSchema } },
};

/** Largest header block of one upload part; real clients send a few hundred bytes. */
const MAX_PART_HEADER_BYTES = 16 * 1024;

export function fileRoutes(registry: Registry, config: KilnConfig): Hono {
  const api = new Hono();

  api.post("/:id/upload", async (c) => {
    const session = registry.get(c.req.param("id"), requestOwner(c));
    const parts = await readUpload(c.req.raw, {
      maxFiles: config.uploadMaxFiles,
      maxFileBytes: config.uploadMaxFileBytes,
      maxHeaderBytes: MAX_PART_HEADER_BYTES,
    });
    // Every path is checked before anything is written; writeFiles then lands all or nothing.
    const files = parts.map((part) => ({ path: toSessionPath(decodeFilename(part.filename)), data: part.data }));
    if (files.some((f) => f.path === "")) throw invalidParams(`${toWorkPath("")} is a directory.`);
    await session.vfs.writeFiles(files);
    return c.body(null, 204);
  });

  api.get("/:id/files", async (c) => {
    const session = registry.get(c.req.param("id"), requestOwner(c));
    const { path: clientPath } = parse(FilesSchema, await params(c, config));
    const path = toSessionPath(clientPath);
    const stat = await existing(session.vfs, path);
    if (stat.kind !== "dir") throw invalidParams(`${toWorkPath(path)} is not a directory.`);
    const entries = await session.vfs.list(path);
    const files = entries.map((e) => ({
      filename: e.name,
      mode: modeString(e),
      size: e.size,
      ctime: e.ctimeMs / 1000,
      mtime: e.mtimeMs / 1000,
      atime: e.atimeMs / 1000,
    }));
    const where = toWorkPath(path);
    return c.json({ files: JSON.stringify(files), folder_path: where, abspath: where, errors: "" } satisfies v.InferOutput<typeof FileListSchema>);
  });

  const download = async (c: Context<BlankEnv, "/:id/download">) => {
    const session = registry.get(c.req.param("id"), requestOwner(c));
    const body = parse(DownloadSchema, await params(c, config));
    const requested = await splitCommaJoined(session.vfs, body.files);
    if (requested.length > config.downloadMaxPaths) {
      throw invalidParams(`files: at most ${config.downloadMaxPaths} paths per download, got ${requested.length}.`);
    }
    const paths = requested.map(toSessionPath);
    // Every path must exist before the first byte is sent: a 200 cannot become a 404 later.
    for (const path of paths) await existing(session.vfs, path);
    const zip = body.format === "zip" || (c.req.header("accept") ?? "").includes("application/zip");
    if (zip) {
      // Each path is one top-level entry named by its base name: two equal names would
      // make zip.js fail after the 200 has gone out.
      const names = paths.map(baseName);
      const twice = names.find((name, i) => names.indexOf(name) !== i);
      if (twice !== undefined) throw invalidParams(`files: two paths would both be named "${twice}" in the zip.`);
      const stream = zipStream(session.vfs, paths.map((path) => ({ path, name: baseName(path) })));
      return new Response(stream, {
        headers: { "content-type": "application/zip", "content-disposition": contentDisposition(`${session.name}.zip`) },
      });
    }
    const { contentType, body: stream } = multipartMixed(
      paths.map((path) => ({
        headers: {
          "Content-Type": "application/x-tar",
          "Content-Disposition": contentDisposition(`${baseName(path)}.tar`),
          "Content-Encoding": "identity",
          "Content-Transfer-Encoding": "binary",
        },
        body: () => tarStream(session.vfs, path, baseName(path)),
      })),
    );
    return new Response(stream, { headers: { "content-type": contentType } });
  };
  api.get("/:id/download", download);
  api.post("/:id/download", download);

  const downloadSingle = async (c: Context<BlankEnv, "/:id/download_single">) => {
    const session = registry.get(c.req.param("id"), requestOwner(c));
    const { file } = parse(DownloadSingleSchema, await params(c, config));
    const path = toSessionPath(file);
    const stat = await existing(session.vfs, path);
    if (stat.kind !== "file") throw invalidParams(`${toWorkPath(path)} is not a regular file.`);
    // Opened (and its first chunk read) before the 200: a FIFO or socket a program made is a 400.
    const content = await primedRead(session.vfs, path);
    if (!content) throw invalidParams(`${toWorkPath(path)} is not a regular file.`);
    return new Response(content, {
      headers: {
        "content-type": "application/octet-stream",
        "content-length": String(stat.size),
        "content-disposition": contentDisposition(baseName(path)),
      },
    });
  };
  api.get("/:id/download_single", downloadSingle);
  api.post("/:id/download_single", downloadSingle);

  return api;
}

/**
 * Parameters from the query string merged over a JSON body: Backend.AI 24.09 reads a JSON
 * body (even on GET), newer servers and the JS client the query string.
 */
async function params(c: Context, config: KilnConfig): Promise<Record<string, unknown>> {
  const body = await readJson(c.req.raw, config.bodyLimitBytes);
  if (body !== undefined && (body === null || typeof body !== "object" || Array.isArray(body))) {
    throw invalidParams("body: must be a JSON object");
  }
  const merged: Record<string, unknown> = { ...(body as Record<string, unknown> | undefined) };
  for (const [key, values] of Object.entries(c.req.queries())) {
    merged[key] = key === "files" ? values : values[values.length - 1];
  }
  return merged;
}

/** `?files=a,b` (URLSearchParams of an array) means two paths, unless a file is literally named "a,b". */
async function splitCommaJoined(vfs: Vfs, files: string[]): Promise<string[]> {
  const [only] = files;
  if (files.length !== 1 || only === undefined || !only.includes(",")) return files;
  const literal = await vfs.stat(toSessionPath(only)).catch(() => null);
  return literal ? files : only.split(",").filter((p) => p !== "");
}

/**
 * aiohttp's FormData (Backend.AI's Python client) percent-encodes filenames, "/" included,
 * and browsers encode '"', CR and LF; a name that decodes cleanly is taken decoded, any
 * other (a literal "100%.txt") as sent. paths.ts judges the result either way.
 */
function decodeFilename(name: string): string {
  try {
    return decodeURIComponent(name);
  } catch {
    return name;
  }
}

async function existing(vfs: Vfs, path: string): Promise<Stat> {
  const stat = await vfs.stat(path);
  if (!stat) throw notFound("file or directory", `${toWorkPath(path)} does not exist.`);
  return stat;
}

/** "-rw-r--r--", "drwxr-xr-x", "lrwxrwxrwx": Python's stat.filemode, as Backend.AI's agent reports it. */
function modeString(stat: Stat): string {
  const type = stat.kind === "dir" ? "d" : stat.kind === "symlink" ? "l" : "-";
  let bits = "";
  for (let shift = 6; shift >= 0; shift -= 3) {
    const triple = (stat.mode >> shift) & 7;
    bits += (triple & 4 ? "r" : "-") + (triple & 2 ? "w" : "-") + (triple & 1 ? "x" : "-");
  }
  return type + bits;
}
