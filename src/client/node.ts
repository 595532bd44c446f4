// Node-only helpers of the client ("kiln/client/node"; Bun runs them too): local
// files to upload, and a downloaded tar extracted into a directory without letting
// the archive write anywhere else.

import { constants, promises as fsp } from "node:fs";
import { basename, dirname, isAbsolute, join, normalize, relative, resolve, sep } from "node:path";
import tar from "tar-stream";
import type { UploadFile } from "./transfer.ts";

/**
 * Local files (directories recursively) as upload files. Each keeps the relative path it
 * was given ("src/main.c" stays "src/main.c"); an absolute path or one that climbs with
 * ".." keeps only its base name.
 */
export async function filesFromPaths(paths: readonly string[]): Promise<UploadFile[]> {
  const files: UploadFile[] = [];
  const add = async (local: string, remote: string): Promise<void> => {
    const stat = await fsp.stat(local);
    if (stat.isDirectory()) {
      for (const name of (await fsp.readdir(local)).sort()) await add(join(local, name), `${remote}/${name}`);
    } else if (stat.isFile()) {
      files.push({ path: remote, data: new Uint8Array(await fsp.readFile(local)) });
    } else {
      throw new Error(`${local} is neither a file nor a directory`);
    }
  };
  for (const path of paths) {
    const clean = normalize(path).replace(/\/+$/, "");
    const climbs = isAbsolute(clean) || clean === ".." || clean.startsWith(`..${sep}`);
    const remote = climbs ? basename(clean) : clean === "." ? "" : clean.split(sep).join("/");
    if (remote === "") {
      for (const name of (await fsp.readdir(path)).sort()) await add(join(path, name), name);
    } else {
      await add(path, remote);
    }
  }
  return files;
}

export interface Extracted {
  /** Entry paths written, relative to the target directory. */
  paths: string[];
}

/**
 * Extracts a tar stream into `dir` (created if needed). Refuses, by throwing, entries
 * with absolute names or ".." components, symlinks whose target leaves `dir`, writes
 * through a symlink already on disk, and entry types other than files, directories
 * and symlinks. File modes keep only their permission bits.
 */
export async function extractTar(stream: ReadableStream<Uint8Array>, dir: string): Promise<Extracted> {
  const root = resolve(dir);
  await fsp.mkdir(root, { recursive: true });
  const extract = tar.extract();
  const paths: string[] = [];
  const feeding = feed(stream, extract);
  feeding.catch(() => undefined);
  try {
    for await (const entry of extract) {
      const { header } = entry;
      const name = safeName(header.name);
      if (name === null) {
        entry.resume();
        continue;
      }
      const target = join(root, name);
      await ensureParents(root, name);
      switch (header.type) {
        case "directory":
          await makeDir(target, header.mode);
          entry.resume();
          break;
        case "file":
        case "contiguous-file":
          await removeNonDir(target);
          await writeNew(target, header.mode, entry as AsyncIterable<Uint8Array>);
          break;
        case "symlink": {
          const link = header.linkname ?? "";
          const pointsTo = resolve(dirname(target), link);
          if (isAbsolute(link) || !inside(root, pointsTo)) throw new Error(`refusing ${header.name}: a symlink to ${link} leaves ${dir}`);
          await removeNonDir(target);
          await fsp.symlink(link, target);
          entry.resume();
          break;
        }
        default:
          throw new Error(`refusing ${header.name}: entries of type ${header.type} are not extracted`);
      }
      if (header.mtime && header.type !== "symlink") await fsp.utimes(target, header.mtime, header.mtime).catch(() => undefined);
      paths.push(name);
    }
    await feeding;
  } catch (error) {
    extract.destroy();
    await stream.cancel().catch(() => undefined);
    throw error;
  }
  return { paths };
}

/** The entry's path relative to the target, null for the target itself; throws for names that leave it. */
function safeName(raw: string): string | null {
  if (raw.startsWith("/") || /^[A-Za-z]:[\\/]/.test(raw)) throw new Error(`refusing ${raw}: an absolute name`);
  const parts = raw.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw new Error(`refusing ${raw}: a name with ".."`);
  if (parts.some((p) => p.includes("\0"))) throw new Error(`refusing ${JSON.stringify(raw)}: a NUL in the name`);
  return parts.length === 0 ? null : parts.join(sep);
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
}

/** Creates the entry's parent directories, refusing any that is a symlink (the archive's or the disk's). */
async function ensureParents(root: string, name: string): Promise<void> {
  const parts = name.split(sep).slice(0, -1);
  let current = root;
  for (const part of parts) {
    current = join(current, part);
    const stat = await fsp.lstat(current).catch(() => null);
    if (!stat) await fsp.mkdir(current);
    else if (!stat.isDirectory()) throw new Error(`refusing ${name}: ${relative(root, current)} is not a directory`);
  }
}

async function makeDir(path: string, mode: number | undefined): Promise<void> {
  const stat = await fsp.lstat(path).catch(() => null);
  if (stat && !stat.isDirectory()) throw new Error(`cannot make directory ${path}: something else is there`);
  if (!stat) await fsp.mkdir(path);
  if (mode !== undefined) await fsp.chmod(path, (mode & 0o777) | 0o700);
}

/** Unlinks a file or symlink in the way (never following it); a directory there is an error. */
async function removeNonDir(path: string): Promise<void> {
  const stat = await fsp.lstat(path).catch(() => null);
  if (stat?.isDirectory()) throw new Error(`cannot write ${path}: a directory is there`);
  if (stat) await fsp.unlink(path);
}

/** Writes a new file, never through a symlink that appeared at its name. */
async function writeNew(path: string, mode: number | undefined, content: AsyncIterable<Uint8Array>): Promise<void> {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  const handle = await fsp.open(path, flags, (mode ?? 0o644) & 0o777);
  try {
    for await (const chunk of content) await handle.write(chunk);
  } finally {
    await handle.close();
  }
}

/** Writes the stream into the extractor, heeding its backpressure. */
async function feed(stream: ReadableStream<Uint8Array>, extract: tar.Extract): Promise<void> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!extract.write(value)) await new Promise<void>((resolve) => (extract.once("drain", () => resolve()), extract.once("close", () => resolve())));
    }
    extract.end(null);
  } finally {
    reader.releaseLock();
  }
}
