// The host side of one QuickJS runtime: the functions the guest runtime
// (guest.ts) calls — output, the session's files, input and module loading —
// and the ES module loader. Synchronous in the guest, async here: asyncify
// suspends the guest while the VFS or the client answers.

import type { QuickJSAsyncContext, QuickJSAsyncRuntime, QuickJSAsyncWASMModule, QuickJSHandle, VmCallResult } from "quickjs-emscripten-core";
import type { StepIO } from "../kernel.ts";
import { VfsError, type Vfs } from "../../vfs/vfs.ts";
import { WORK_DIR } from "../../vfs/paths.ts";
import { GUEST_RUNTIME } from "./guest.ts";
import { ModuleError, Modules, sessionPath } from "./modules.ts";

export interface ProcessConfig {
  argv: string[];
  env: Record<string, string>;
  version: string;
}

/** A runtime with one context, its guest runtime installed; `io` is the current step's. */
export interface Guest {
  runtime: QuickJSAsyncRuntime;
  context: QuickJSAsyncContext;
  io: StepIO | null;
  /** The heap limit was hit (QuickJS reports it as a catchable error; the run must still end). */
  outOfMemory: boolean;
}

/** What an evaluation gives: a value or the error it threw. */
export type EvalResult = Awaited<ReturnType<QuickJSAsyncContext["evalCodeAsync"]>>;

/** Calls `__kiln[name](arg)`, a control function of the guest runtime. */
export function callKiln(guest: Guest, name: string, arg: QuickJSHandle): EvalResult {
  const { context } = guest;
  return context.getProp(context.global, "__kiln").consume((kiln) => context.getProp(kiln, name).consume((fn) => context.callFunction(fn, kiln, arg)));
}

const FS_MESSAGES: Record<string, string> = {
  ENOENT: "no such file or directory",
  EEXIST: "file already exists",
  ENOTDIR: "not a directory",
  EISDIR: "illegal operation on a directory",
  ENOTEMPTY: "directory not empty",
  EQUOTA: "disk quota exceeded",
};

export function createGuest(module: QuickJSAsyncWASMModule, vfs: Vfs, memoryMiB: number, config: ProcessConfig): Guest {
  const runtime = module.newRuntime();
  runtime.setMemoryLimit(memoryMiB * 1024 * 1024);
  const context = runtime.newContext();
  const modules = new Modules(vfs);
  const guest: Guest = { runtime, context, io: null, outOfMemory: false };
  const ctx = context;
  const decoder = new TextDecoder();

  const fail = (error: unknown): VmCallResult<QuickJSHandle> => {
    const code = error instanceof VfsError ? (error.code === "EQUOTA" ? "EDQUOT" : error.code) : error instanceof ModuleError ? error.code : undefined;
    const message = error instanceof Error ? error.message : String(error);
    const handle = ctx.newError({ name: "Error", message });
    if (code) ctx.setProp(handle, "code", ctx.newString(code));
    return { error: handle };
  };
  const session = (path: string): string => {
    const sp = sessionPath(path);
    if (sp === null) throw Object.assign(new VfsError("ENOENT", path), { message: `ENOENT: no such file or directory, '${path}' (only ${WORK_DIR} is reachable)` });
    return sp;
  };
  const fsError = (error: unknown, op: string, path: string) =>
    error instanceof VfsError ? Object.assign(error, { message: `${error.code === "EQUOTA" ? "EDQUOT" : error.code}: ${FS_MESSAGES[error.code] ?? "operation failed"}, ${op} '${path}'` }) : error;
  const bytes = (handle: QuickJSHandle): Uint8Array =>
    ctx.typeof(handle) === "string" ? new TextEncoder().encode(ctx.getString(handle)) : new Uint8Array(ctx.getArrayBuffer(handle).value.slice());

  const host = ctx.newObject();
  const fn = (name: string, impl: (...args: QuickJSHandle[]) => QuickJSHandle | VmCallResult<QuickJSHandle> | void) =>
    ctx.newFunction(name, impl).consume((h) => ctx.setProp(host, name, h));
  const asyncFn = (name: string, impl: (...args: QuickJSHandle[]) => Promise<QuickJSHandle | VmCallResult<QuickJSHandle> | void>) =>
    ctx.newAsyncifiedFunction(name, async (...args) => {
      try {
        return await impl(...args);
      } catch (error) {
        return fail(error);
      }
    }).consume((h) => ctx.setProp(host, name, h));

  fn("write", (stream, text) => {
    guest.io?.write(ctx.getNumber(stream) === 2 ? "stderr" : "stdout", ctx.getString(text));
  });
  asyncFn("input", async (prompt) => {
    const io = guest.io;
    if (!io) throw new Error("no input outside a run");
    const text = ctx.getString(prompt);
    if (text) io.write("stdout", `${text} `);
    return ctx.newString(await io.readInput({ isPassword: false, prompt: text }));
  });
  asyncFn("fs", async (opHandle, pathHandle, a, b) => {
    const op = ctx.getString(opHandle);
    const path = ctx.getString(pathHandle);
    try {
      switch (op) {
        case "read": {
          const data = await vfs.readFile(session(path));
          return ctx.getNumber(a) ? ctx.newString(decoder.decode(data)) : ctx.newArrayBuffer(data.slice().buffer);
        }
        case "write":
          await vfs.writeFiles([{ path: session(path), data: bytes(a!) }]);
          return;
        case "append":
          await vfs.appendFile(session(path), bytes(a!));
          return;
        case "stat": {
          const stat = await vfs.stat(session(path));
          return stat ? ctx.newString(JSON.stringify(stat)) : ctx.null;
        }
        case "list":
          return ctx.newString(JSON.stringify((await vfs.list(session(path))).map((e) => ({ name: e.name, kind: e.kind }))));
        case "mkdir": {
          const sp = session(path);
          const recursive = ctx.getNumber(a!) === 1;
          if (!recursive && (await vfs.stat(sp))) throw new VfsError("EEXIST", sp);
          await vfs.mkdir(sp, { parents: recursive });
          return;
        }
        case "rm":
          await vfs.rm(session(path), { recursive: ctx.getNumber(a!) === 1, force: b !== undefined && ctx.getNumber(b) === 1 });
          return;
        case "rename":
          await vfs.rename(session(path), session(ctx.getString(a!)));
          return;
        default:
          throw new Error(`fs: unknown operation ${op}`);
      }
    } catch (error) {
      throw fsError(error, op, path);
    }
  });
  asyncFn("resolve", async (spec, from, kind) =>
    ctx.newString(JSON.stringify(await modules.resolve(ctx.getString(spec), ctx.getString(from), ctx.getString(kind) === "import" ? "import" : "require"))),
  );
  asyncFn("source", async (path) => ctx.newString(await modules.source(ctx.getString(path))));

  const install = ctx.unwrapResult(ctx.evalCode(GUEST_RUNTIME, "node:internal/kiln"));
  const configHandle = ctx.unwrapResult(ctx.evalCode(`(${JSON.stringify(config)})`));
  ctx.unwrapResult(ctx.callFunction(install, ctx.undefined, host, configHandle)).dispose();
  install.dispose();
  configHandle.dispose();
  host.dispose();

  const builtinNames = JSON.parse(ctx.getString(ctx.unwrapResult(ctx.evalCode("__kiln.builtinNames()")))) as Record<string, string[]>;
  runtime.setModuleLoader(
    async (name) => {
      try {
        return await modules.esmSource(name, builtinNames);
      } catch (error) {
        return { error: error instanceof Error ? error : new Error(String(error)) };
      }
    },
    async (base, requested) => {
      try {
        const from = base.startsWith("/") ? base : `${WORK_DIR}/${base}`;
        return (await modules.resolve(requested, from, "import")).path;
      } catch (error) {
        return { error: error instanceof Error ? error : new Error(String(error)) };
      }
    },
  );
  return guest;
}
