// A streaming tar of a session subtree, like Docker's get_archive: entries are named from
// `name` (the basename of the path), directories come before their contents, symlinks are
// stored as symlinks; the tree comes from walk.ts. Entries are gathered into chunks of
// CHUNK_BYTES, each file read straight into its place after its header (tar-header.ts), and
// a larger file goes out in chunks of that size: few chunks through the streams and the
// socket, and no copy. The stream is pull-driven: nothing is read before the first pull and
// one chunk per pull, so memory stays at a chunk however large the tree.

import type { FileReader, Vfs } from "../vfs/vfs.ts";
import { encodeHeader, padding } from "./tar-header.ts";
import { readExactly, walkTree, type WalkEntry } from "./walk.ts";

/**
 * Size of the chunks the archive is sent in. Measured on figure 6 (2 busy cores): 1 MiB
 * chunks cost several times the CPU of 64–512 KiB ones, fresh memory for each being the
 * difference; between 64 and 512 KiB the noise was larger than any trend.
 */
const CHUNK_BYTES = 256 * 1024;
/** Two zero blocks end an archive. */
const END_BYTES = 1024;

export function tarStream(vfs: Vfs, path: string, name: string): ReadableStream<Uint8Array> {
  const writer = new TarWriter(walkTree(vfs, path, name));
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const chunk = await writer.next();
        if (chunk) controller.enqueue(chunk);
        else controller.close();
      },
      // Resolves once every file and directory the walk held is closed.
      cancel: () => writer.close(),
    },
    { highWaterMark: 0 },
  );
}

class TarWriter {
  /** An entry that did not fit in the previous chunk. */
  private carried: WalkEntry | null = null;
  /** The file being sent chunk by chunk. */
  private large: { file: FileReader; name: string; left: number; pad: number } | null = null;
  private walked = false;
  private ended = false;

  constructor(private readonly walk: AsyncGenerator<WalkEntry, void, undefined>) {}

  /** The next chunk of the archive; null after its end. On an error everything is closed. */
  async next(): Promise<Uint8Array | null> {
    try {
      if (this.large) return await this.largeChunk(null);
      return this.ended ? null : await this.batch();
    } catch (e) {
      await this.close();
      throw e;
    }
  }

  async close(): Promise<void> {
    this.ended = true;
    const open = [this.large?.file, this.carried?.kind === "file" ? this.carried.file : undefined];
    this.large = null;
    this.carried = null;
    for (const file of open) await file?.close();
    await this.walk.return();
  }

  /** Entries gathered into one chunk, or the first chunk of a file too large for one. */
  private async batch(): Promise<Uint8Array> {
    const out = Buffer.allocUnsafe(CHUNK_BYTES);
    let used = 0;
    while (!this.walked) {
      const entry = this.carried ?? (await this.nextEntry());
      this.carried = null;
      if (!entry) break;
      const size = entry.kind === "file" ? entry.stat.size : 0;
      const header = encodeHeader({
        name: entry.kind === "dir" ? `${entry.name}/` : entry.name,
        type: entry.kind === "dir" ? "directory" : entry.kind,
        mode: entry.stat.mode,
        mtimeMs: entry.stat.mtimeMs,
        size,
        ...(entry.kind === "symlink" ? { linkname: entry.target } : {}),
      });
      if (used + header.byteLength + size + padding(size) > CHUNK_BYTES) {
        if (used > 0) {
          this.carried = entry;
          break;
        }
        // Alone it does not fit a chunk: only a file's content (or a pax name) is that large.
        if (entry.kind !== "file") return header;
        this.large = { file: entry.file, name: entry.name, left: size, pad: padding(size) };
        return await this.largeChunk(header);
      }
      out.set(header, used);
      used += header.byteLength;
      if (entry.kind === "file") {
        try {
          await readExactly(entry.file, out.subarray(used, used + size), entry.name);
        } finally {
          await entry.file.close();
        }
        used += size;
        out.fill(0, used, used + padding(size));
        used += padding(size);
      }
    }
    if (this.walked && used + END_BYTES <= CHUNK_BYTES) {
      out.fill(0, used, used + END_BYTES);
      used += END_BYTES;
      this.ended = true;
    }
    return out.subarray(0, used);
  }

  /** The next part of the large file, after `header` when it is the first. */
  private async largeChunk(header: Uint8Array | null): Promise<Uint8Array> {
    const large = this.large!;
    const lead = header?.byteLength ?? 0;
    const part = Math.min(Math.max(CHUNK_BYTES - lead, 0), large.left);
    const last = part === large.left;
    const out = Buffer.allocUnsafe(lead + part + (last ? large.pad : 0));
    if (header) out.set(header);
    await readExactly(large.file, out.subarray(lead, lead + part), large.name);
    out.fill(0, lead + part);
    large.left -= part;
    if (last) {
      this.large = null;
      await large.file.close();
    }
    return out;
  }

  private async nextEntry(): Promise<WalkEntry | null> {
    const step = await this.walk.next();
    if (step.done) this.walked = true;
    return step.done ? null : step.value;
  }
}
