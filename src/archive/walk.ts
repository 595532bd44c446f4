// The walk both archive writers share: a session subtree in pre-order (a directory before
// its contents, names sorted), holding one open directory handle per level and opening each
// child relative to its parent's handle, so a tree N levels deep costs N opens and a
// symlink swapped in mid-walk is met as a symlink, never followed. Iterative, not recursive
// generators: each level of `yield*` would add a hop to every entry below it.

import { baseName, parentPath } from "../vfs/paths.ts";
import { VfsError, type DirEntry, type DirHandle, type FileReader, type Stat, type Vfs } from "../vfs/vfs.ts";

export type WalkEntry =
  | { kind: "dir"; name: string; stat: Stat }
  | { kind: "symlink"; name: string; stat: Stat; target: string }
  /** Open for reading: the consumer reads and closes it. Its stat is the open file's own. */
  | { kind: "file"; name: string; stat: Stat; file: FileReader };

interface Level {
  dir: DirHandle;
  /** The directory's name in the archive; null for the parent of the walked path. */
  name: string | null;
  entries: DirEntry[];
  next: number;
}

/**
 * Entries of the subtree at session path `path`, named from `name` (`name/child/…`).
 * FIFOs, sockets and devices are left out. Returning early (or an error) closes every
 * directory handle the walk holds.
 */
export async function* walkTree(vfs: Vfs, path: string, name: string): AsyncGenerator<WalkEntry, void, undefined> {
  const levels: Level[] = [];
  try {
    if (path === "") {
      const stat = await vfs.stat("");
      if (!stat) throw new VfsError("ENOENT", path);
      levels.push(await enter(await vfs.openDir(""), name));
      yield { kind: "dir", name, stat };
    } else {
      const parent = await vfs.openDir(parentPath(path));
      const top = await parent.stat(baseName(path));
      if (!top) throw new VfsError("ENOENT", path);
      // The parent is a level whose only entry is the path itself.
      levels.push({ dir: parent, name: null, entries: [{ ...top, name: baseName(path) }], next: 0 });
    }
    while (levels.length > 0) {
      const level = levels[levels.length - 1]!;
      const child = level.entries[level.next++];
      if (!child) {
        levels.pop();
        await level.dir.close();
        continue;
      }
      const entryName = level.name === null ? name : `${level.name}/${child.name}`;
      if (child.kind === "dir") {
        levels.push(await enter(await level.dir.openDir(child.name), entryName));
        yield { kind: "dir", name: entryName, stat: child };
      } else if (child.kind === "symlink") {
        yield { kind: "symlink", name: entryName, stat: child, target: await level.dir.readlink(child.name) };
      } else {
        const file = await level.dir.openFile(child.name);
        if (file) yield { kind: "file", name: entryName, stat: file.stat, file };
      }
    }
  } finally {
    for (const level of levels.reverse()) await level.dir.close().catch(() => undefined);
  }
}

/** Fills `into` from the file: its size went into the archive already, so one that shrank is an error. */
export async function readExactly(file: FileReader, into: Uint8Array, name: string): Promise<void> {
  for (let got = 0; got < into.byteLength; ) {
    const n = await file.read(into.subarray(got));
    if (n === 0) throw new Error(`${name} shrank while being archived`);
    got += n;
  }
}

async function enter(dir: DirHandle, name: string): Promise<Level> {
  try {
    return { dir, name, entries: await dir.list(), next: 0 };
  } catch (e) {
    await dir.close();
    throw e;
  }
}
