// Entry of the sandbox process: runs isolate kernels (factory.ts) for the
// server, with each session's files and console reached over IPC. Started by
// process-host.ts with --no-node-snapshot; exits when the server goes away.

import { loadIsolatedVm } from "./addon.ts";
import { createFactory, type IsolateKernelOptions } from "./factory.ts";
import { StepAbort, type InputRequest, type Kernel, type StepIO } from "../kernel.ts";
import { VfsError, type Vfs } from "../../vfs/vfs.ts";
import { toWire, type KernelCall, type ToChild, type ToParent, type VfsMethod, type WireError, type Without } from "./protocol.ts";

const send = (message: ToParent) => process.send?.(message);

const ivm = loadIsolatedVm();
if (!ivm) process.exit(70);
const options = JSON.parse(process.env.KILN_ISOLATE_OPTIONS ?? "{}") as IsolateKernelOptions;
const factory = createFactory(ivm, options);

const kernels = new Map<number, Kernel>();
const runs = new Map<number, AbortController>();
/** Runs whose output the server already cuts off (see "output-cut"). */
const outputCut = new Set<number>();
const questions = new Map<number, { resolve(value: unknown): void; reject(error: unknown): void }>();
let nextQuestion = 1;

function ask<T>(message: Without<Extract<ToParent, { qid: number }>, "qid">): Promise<T> {
  const qid = nextQuestion++;
  return new Promise<T>((resolve, reject) => {
    questions.set(qid, { resolve: resolve as (v: unknown) => void, reject });
    send({ ...message, qid } as ToParent);
  });
}

function fromWire(error: WireError): Error {
  if (error.name === "VfsError" && error.code) return new VfsError(error.code as VfsError["code"], error.path ?? "", error.message);
  if (error.name === "StepAbort") return new StepAbort((error.message.split(": ")[1] ?? "interrupt") as StepAbort["reason"]);
  return Object.assign(new Error(error.message), { name: error.name, code: error.code });
}

/** The session's files, in the server. */
function remoteVfs(kid: number): Vfs {
  const call = (method: VfsMethod) => (...args: unknown[]) => ask({ t: "vfs", kid, method, args });
  const unsupported = () => {
    throw new Error("not available in the sandbox process");
  };
  return {
    kind: "memory",
    stat: call("stat"),
    list: call("list"),
    readFile: call("readFile"),
    writeFiles: call("writeFiles"),
    appendFile: call("appendFile"),
    mkdir: call("mkdir"),
    rm: call("rm"),
    rename: call("rename"),
    openRead: unsupported,
    readlink: unsupported,
    usage: unsupported,
    destroy: async () => {},
  } as unknown as Vfs;
}

function remoteIO(rid: number, signal: AbortSignal): StepIO {
  return {
    signal,
    write: (stream, data) => {
      if (outputCut.has(rid)) return false;
      send({ t: "write", rid, stream, data });
      return true;
    },
    emit: () => {},
    readInput: (request: InputRequest) => {
      if (signal.aborted) return Promise.reject(signal.reason);
      return new Promise<string>((resolve, reject) => {
        signal.addEventListener("abort", () => reject(signal.reason), { once: true });
        ask<string>({ t: "input", rid, request }).then(resolve, reject);
      });
    },
  };
}

async function perform(rid: number, kernel: Kernel, call: KernelCall): Promise<unknown> {
  switch (call.method) {
    case "query":
    case "step": {
      const controller = new AbortController();
      runs.set(rid, controller);
      try {
        const io = remoteIO(rid, controller.signal);
        return call.method === "query" ? await kernel.query(call.code, io) : await kernel.step(call.step, call.command, io);
      } finally {
        runs.delete(rid);
        outputCut.delete(rid);
      }
    }
    case "complete":
      return kernel.complete(call.code, call.options);
    case "restart":
      return kernel.restart();
    case "destroy":
      return kernel.destroy();
  }
}

async function handle(message: ToChild): Promise<void> {
  switch (message.t) {
    case "answer": {
      const q = questions.get(message.qid);
      questions.delete(message.qid);
      if (q) message.ok ? q.resolve(message.value) : q.reject(fromWire(message.error));
      return;
    }
    case "abort":
      runs.get(message.rid)?.abort(new StepAbort(message.reason));
      return;
    case "output-cut":
      if (runs.has(message.rid)) outputCut.add(message.rid);
      return;
    case "create":
    case "call": {
      const { rid, kid } = message;
      try {
        let value: unknown;
        if (message.t === "create") {
          kernels.set(kid, await factory.create({ ...message.spec, vfs: remoteVfs(kid) }));
        } else {
          const kernel = kernels.get(kid);
          if (!kernel) throw new Error(`no kernel ${kid} in the sandbox process`);
          value = await perform(rid, kernel, message.call);
          if (message.call.method === "destroy") kernels.delete(kid);
        }
        send({ t: "reply", rid, ok: true, value, stats: kernels.get(kid)?.stats() });
      } catch (error) {
        send({ t: "reply", rid, ok: false, error: toWire(error) });
      }
    }
  }
}

process.on("message", (message: ToChild) => void handle(message));
process.on("disconnect", () => process.exit(0));
send({ t: "ready" });
