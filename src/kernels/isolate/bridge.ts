// Host side of the bridge (see runtime/host.ts). Everything arriving here was
// copied out of the isolate and is untrusted: operation names are looked up in
// a fixed table, every argument is type-checked, paths go through the session
// path rules. Replies are plain data. The StepIO of the current run is swapped
// in and out by the runner; output outside a run is dropped.

import type { IVM } from "./addon.ts";
import type { StepIO } from "../kernel.ts";
import type { Vfs } from "../../vfs/vfs.ts";
import { VfsError } from "../../vfs/vfs.ts";
import { WORK_DIR } from "../../vfs/paths.ts";
import { formatTrees, formatTable } from "./format.ts";
import { ModuleError, sessionPath, type ModuleHost } from "./resolve.ts";
import type { OutItem, Reply } from "./runtime/host.ts";
import { OUTCOME_WORD, SCRIPT_END_WORDS, SEQ_WORD } from "./runtime/script-end.ts";

/** Atomics.waitAsync (ES2024; Node ≥ 16), which the project's ES2023 lib does not type. */
const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number, ms: number): { value: Promise<string> | string } }).waitAsync;
/** How often a wait for afterScript looks whether the isolate went away meanwhile. */
const SCRIPT_END_POLL_MS = 20;

type Args = unknown[];

function str(v: unknown, name = "argument"): string {
  if (typeof v !== "string") throw new ModuleError("ERR_INVALID_ARG_TYPE", `${name} must be a string`);
  return v;
}

function bytes(v: unknown): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new ModuleError("ERR_INVALID_ARG_TYPE", "data must be bytes");
  return v;
}

const VFS_CODES: Record<string, string> = { ESYMLINK: "ELOOP", EQUOTA: "EDQUOT" };

/** A path the program named: its session path, or a Node error code when it is outside /home/work. */
function target(path: unknown, write: boolean): string {
  const sp = sessionPath(str(path, "path"));
  if (sp === null) {
    if (write) throw new ModuleError("EACCES", `EACCES: permission denied: ${String(path)} is outside ${WORK_DIR}`);
    throw new VfsError("ENOENT", String(path));
  }
  return sp;
}

export interface BridgeDeps {
  vfs: Vfs;
  modules: ModuleHost;
  /** Heap figures of the isolate, for process.memoryUsage(). */
  heap(): Promise<Record<string, number>>;
}

export class HostBridge {
  private io: StepIO | null = null;
  private reply: Reply = { pending: true };
  private readonly flag: Int32Array;
  private readonly sab: SharedArrayBuffer;

  constructor(
    private readonly ivm: IVM,
    private readonly deps: BridgeDeps,
  ) {
    this.sab = new SharedArrayBuffer(4 * SCRIPT_END_WORDS);
    this.flag = new Int32Array(this.sab);
  }

  setIO(io: StepIO | null): void {
    this.io = io;
  }

  /**
   * afterScript's outcome for `seq` (see runtime/script-end.ts): at once when it is there, as it
   * usually is, since it runs right behind the script; else once the runtime notifies. null when
   * `gone` says the isolate went away (or the run was stopped) first.
   */
  async scriptEnd(seq: number, gone: () => boolean): Promise<number | null> {
    for (;;) {
      const current = Atomics.load(this.flag, SEQ_WORD);
      if (current === seq) return Atomics.load(this.flag, OUTCOME_WORD);
      if (gone()) return null;
      await waitAsync(this.flag, SEQ_WORD, current, SCRIPT_END_POLL_MS).value;
    }
  }

  /** The functions handed to the runtime's init(): plain functions inside the isolate. */
  transferables(): unknown[] {
    const { ivm } = this;
    return [
      new ivm.Callback((items: unknown) => this.write(items)),
      new ivm.Callback((trees: unknown, fmt: unknown, options: unknown) => formatTrees(trees, fmt === true, options)),
      new ivm.Callback((op: unknown, args: unknown) => this.call(op, args)),
      new ivm.Callback(() => this.take()),
      new ivm.ExternalCopy(this.sab).copyInto(),
    ];
  }

  /** Hands output to the run; false (to the runtime) once the run drops output. */
  private write(items: unknown): boolean {
    const io = this.io;
    if (!io || io.signal.aborted || !Array.isArray(items)) return true;
    let more = true;
    for (const raw of items.slice(0, 100_000) as OutItem[]) {
      if (!raw || typeof raw !== "object") continue;
      const stream = raw.s === 2 ? "stderr" : "stdout";
      if ("t" in raw && typeof raw.t === "string") more = io.write(stream, raw.t) && more;
      else if ("b" in raw && raw.b instanceof Uint8Array) more = io.write(stream, raw.b) && more;
      else if ("f" in raw) {
        const options = raw.o && typeof raw.o === "object" ? raw.o : {};
        let text: string;
        try {
          text = options.mode === "table" ? formatTable(raw.f, options) : formatTrees(raw.f, options.mode !== "dir", options);
        } catch (error) {
          text = `[output could not be formatted: ${error instanceof Error ? error.message : String(error)}]`;
        }
        const indent = typeof raw.i === "number" && raw.i > 0 ? " ".repeat(Math.min(raw.i, 100)) : "";
        more = io.write(stream, (indent ? text.replace(/^/gm, indent) : text) + "\n") && more;
      }
    }
    return more;
  }

  private call(op: unknown, args: unknown): Reply {
    const list = Array.isArray(args) ? args : [];
    let work: Promise<unknown>;
    try {
      work = this.start(str(op, "op"), list);
    } catch (error) {
      return { ok: false, error: toHostError(error) };
    }
    this.reply = { pending: true };
    work.then(
      (value) => this.settle({ ok: true, value }),
      (error: unknown) => this.settle({ ok: false, error: toHostError(error) }),
    );
    return { pending: true };
  }

  private settle(reply: Reply): void {
    this.reply = reply;
    Atomics.store(this.flag, 0, 1);
    Atomics.notify(this.flag, 0);
  }

  private take(): Reply {
    const reply = this.reply;
    this.reply = { pending: true };
    return reply;
  }

  private start(op: string, a: Args): Promise<unknown> {
    const { vfs, modules } = this.deps;
    switch (op) {
      case "stat":
        return this.stat(a[0]);
      case "list":
        return vfs.list(target(a[0], false)).then((entries) => entries.map((e) => ({ name: e.name, kind: e.kind })));
      case "read":
        return vfs.readFile(target(a[0], false));
      case "write":
        return this.writeFile(a[0], bytes(a[1]), a[2]);
      case "mkdir":
        return vfs.mkdir(target(a[0], true), { parents: a[1] === true });
      case "rm":
        return vfs.rm(target(a[0], true), { recursive: a[1] === true, force: a[2] === true });
      case "rename":
        return vfs.rename(target(a[0], true), target(a[1], true));
      case "input":
        return this.input(a[0]);
      case "resolve":
        return modules.resolve(str(a[0], "specifier"), str(a[1], "from"), a[2] === "import" ? "import" : "require");
      case "load":
        return modules.loadCommonJs(str(a[0], "path")).then((source) => ({ source }));
      case "heap":
        return this.deps.heap();
    }
    throw new ModuleError("ENOSYS", `unknown operation ${op}`);
  }

  private async stat(path: unknown): Promise<unknown> {
    const p = str(path, "path");
    if (p === "/" || p === "/home") return { kind: "dir", size: 0, mode: 0o755, atimeMs: 0, mtimeMs: 0, ctimeMs: 0 };
    const sp = sessionPath(p);
    if (sp === null) return null;
    const s = await this.deps.vfs.stat(sp);
    return s && { kind: s.kind, size: s.size, mode: s.mode, atimeMs: s.atimeMs, mtimeMs: s.mtimeMs, ctimeMs: s.ctimeMs };
  }

  /** Node's rules: the parent must exist (the VFS would create it), "wx" refuses an existing file. */
  private async writeFile(path: unknown, data: Uint8Array, mode: unknown): Promise<void> {
    const { vfs } = this.deps;
    const sp = target(path, true);
    const slash = sp.lastIndexOf("/");
    if (slash > 0) {
      const parent = await vfs.stat(sp.slice(0, slash));
      if (!parent) throw new VfsError("ENOENT", sp);
      if (parent.kind !== "dir") throw new VfsError("ENOTDIR", sp);
    }
    if (mode === "wx" && (await vfs.stat(sp))) throw new VfsError("EEXIST", sp);
    if (mode === "a") await vfs.appendFile(sp, data);
    else await vfs.writeFiles([{ path: sp, data }]);
  }

  private async input(prompt: unknown): Promise<string> {
    const io = this.io;
    if (!io) throw new ModuleError("EBADF", "no input is available outside a run");
    return io.readInput({ isPassword: false, prompt: typeof prompt === "string" && prompt !== "" ? prompt : undefined });
  }
}

function toHostError(error: unknown): { code: string; message: string; name?: string; stack?: string } {
  if (error instanceof VfsError) return { code: VFS_CODES[error.code] ?? error.code, message: error.message };
  if (error instanceof ModuleError) return { code: error.code, message: error.message };
  if (error instanceof SyntaxError) return { code: "ERR_SYNTAX", name: "SyntaxError", message: error.message, stack: error.stack };
  if (error instanceof Error && error.name === "TranspileError") {
    return { code: "ERR_SYNTAX", name: "SyntaxError", message: error.message, stack: `SyntaxError: ${error.message}` };
  }
  if (error instanceof Error && error.name === "StepAbort") return { code: "ERR_ABORTED", message: error.message };
  return { code: "EIO", message: error instanceof Error ? error.message : String(error) };
}
