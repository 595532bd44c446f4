// Moving files for the CLI: uploads in batches the server accepts, downloads of tar
// parts extracted into a directory, each behind one progress bar; and the listing
// walk `kiln run --out` compares to find what a program wrote.

import { join } from "node:path";
import type { FileEntry, KilnSession, UploadFile } from "../client/index.ts";
import { extractTar } from "../client/node.ts";
import { progressBar } from "./progress.ts";

/** Paths per download request: Backend.AI's limit, Kiln's default. */
const DOWNLOAD_BATCH = 5;

/** Uploads files in batches of the session's per-request limit; all of one batch land or none. */
export async function uploadAll(session: KilnSession, files: readonly UploadFile[]): Promise<void> {
  const { limits } = await session.info();
  const sizeOf = (f: UploadFile) => (typeof f.data === "string" ? new TextEncoder().encode(f.data).length : f.data instanceof Blob ? f.data.size : f.data.byteLength);
  const total = files.reduce((sum, f) => sum + sizeOf(f), 0);
  const bar = progressBar("upload");
  let done = 0;
  try {
    for (let i = 0; i < files.length; i += limits.uploadMaxFiles) {
      const batch = files.slice(i, i + limits.uploadMaxFiles);
      const bytes = batch.reduce((sum, f) => sum + sizeOf(f), 0);
      // Progress in file bytes: this batch's share of its encoded body, over all batches.
      await session.upload(batch, { onProgress: (p) => bar.update({ loaded: done + (p.total ? (p.loaded / p.total) * bytes : 0), total }) });
      done += bytes;
    }
  } finally {
    bar.done();
  }
}

/**
 * Downloads paths (as tar archives) and extracts each into `dir`, beside where it is in
 * the session when `keepParents` ("out/r.txt" → dir/out/r.txt), else at the top.
 * Resolves with the extracted paths relative to `dir`.
 */
export async function downloadInto(session: KilnSession, paths: readonly string[], dir: string, keepParents: boolean): Promise<string[]> {
  const written: string[] = [];
  const bar = progressBar("download");
  let before = 0;
  let loaded = 0;
  try {
    for (let i = 0; i < paths.length; i += DOWNLOAD_BATCH) {
      const batch = paths.slice(i, i + DOWNLOAD_BATCH);
      let index = 0;
      for await (const part of session.download(batch, { onProgress: (p) => bar.update({ loaded: (loaded = before + p.loaded), total: null }) })) {
        const parent = keepParents ? parentOf(batch[index++] ?? "") : "";
        const { paths: extracted } = await extractTar(part.body, join(dir, parent));
        written.push(...extracted.map((p) => (parent ? `${parent}/${p}` : p)));
      }
      before = loaded;
    }
  } finally {
    bar.done();
  }
  return written;
}

function parentOf(path: string): string {
  const clean = path.replace(/^\/home\/work\/?/, "").replace(/\/+$/, "");
  const slash = clean.lastIndexOf("/");
  return slash < 0 ? "" : clean.slice(0, slash);
}

/** Every entry under the session's root by path, with what tells a change: kind, size and mtime. */
export async function snapshot(session: KilnSession): Promise<Map<string, string>> {
  const seen = new Map<string, string>();
  await walk(session, "", (path, entry) => {
    seen.set(path, signature(entry));
    return true;
  });
  return seen;
}

/**
 * What is new or changed since `before`: a new directory as a whole, a changed file by
 * itself. Directories that were there are searched, not reported.
 */
export async function changedSince(session: KilnSession, before: Map<string, string>): Promise<string[]> {
  const changed: string[] = [];
  await walk(session, "", (path, entry) => {
    const was = before.get(path);
    if (was === undefined) {
      changed.push(path);
      return false;
    }
    if (entry.kind !== "dir" && was !== signature(entry)) changed.push(path);
    return entry.kind === "dir";
  });
  return changed;
}

function signature(entry: FileEntry): string {
  return `${entry.kind} ${entry.size} ${entry.mtime}`;
}

/** Visits every entry; `visit` says whether to descend into a directory. */
async function walk(session: KilnSession, dir: string, visit: (path: string, entry: FileEntry) => boolean): Promise<void> {
  for (const entry of await session.listFiles(dir || undefined)) {
    const path = dir ? `${dir}/${entry.filename}` : entry.filename;
    if (visit(path, entry) && entry.kind === "dir") await walk(session, path, visit);
  }
}
