// Entry of the sandbox process: runs isolate kernels (factory.ts) for the
// server, with each session's files and console reached over IPC. Started by
// process-host.ts with --no-node-snapshot; exits when the server goes away.

import { loadIsolatedVm } from "./addon.ts";
import { createFactory, type IsolateKernelOptions } from "./factory.ts";
import { StepAbort, type InputRequest, type Kernel, type StepIO } from "../kernel.ts";
import { VfsError, type Vfs } from "../../vfs/vfs.ts";
import { Outbox } from "./outbox.ts";
import { toWire, type KernelCall, type OutputItem, type ToChild, type ToParent, type VfsMethod, type WireError, type Without } from "./protocol.ts";

const outbox = new Outbox<ToParent>((batch) => process.send?.(batch));
const send = (message: ToParent) => outbox.post(message);

const ivm = loadIsolatedVm();
if (!ivm) process.exit(70);
const options = JSON.parse(process.env.KILN_ISOLATE_OPTIONS ?? "{}") as IsolateKernelOptions;
const factory = createFactory(ivm, options);

/**
 * How long an aborted run may take to stop, and a call outside any run (completion,
 * restart, destroy) to answer, before this process gives itself up. isolated-vm copies
 * a thrown value or an unhandled rejection's reason after a call's timeout has ended,
 * running the program's getters and Proxy traps where neither the timeout nor
 * Isolate#dispose() can stop them: a thread spinning there is only stopped with its
 * process. The server then starts a new one (see process-host.ts).
 */
const WEDGED_MS = 3000;

function giveUp(what: string): void {
  process.stderr.write(`kiln: ${what} within ${WEDGED_MS} ms; an isolate thread is stuck where V8 cannot interrupt it, so the sandbox process ends\n`);
  process.kill(process.pid, "SIGKILL");
}

/** `work`, or the end of this process if it has not settled within WEDGED_MS. */
function watched<T>(work: Promise<T>, what: string): Promise<T> {
  const timer = setTimeout(() => giveUp(what), WEDGED_MS);
  return work.finally(() => clearTimeout(timer));
}

const kernels = new Map<number, Kernel>();
const runs = new Map<number, AbortController>();
/** Runs whose output the server already cuts off (see "output-cut"). */
const outputCut = new Set<number>();
/** Output not yet sent, per run: a flood goes out as a few large messages, so other sessions' messages are not stuck behind thousands of small ones. */
const unsent = new Map<number, OutputItem[]>();

function sendOutput(rid: number): void {
  const items = unsent.get(rid);
  if (!items) return;
  unsent.delete(rid);
  send({ t: "write", rid, items });
}

/** The run's unsent output, for its reply. */
function takeOutput(rid: number): { items?: OutputItem[] } {
  const items = unsent.get(rid);
  if (!items) return {};
  unsent.delete(rid);
  return { items };
}
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
      const items = unsent.get(rid);
      if (items) items.push({ stream, data });
      else {
        unsent.set(rid, [{ stream, data }]);
        queueMicrotask(() => sendOutput(rid));
      }
      return true;
    },
    emit: () => {},
    readInput: (request: InputRequest) => {
      if (signal.aborted) return Promise.reject(signal.reason);
      return new Promise<string>((resolve, reject) => {
        signal.addEventListener("abort", () => reject(signal.reason), { once: true });
        sendOutput(rid);
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
      return watched(kernel.complete(call.code, call.options), "a completion did not answer");
    case "restart":
      return watched(kernel.restart(), "a kernel restart did not finish");
    case "destroy":
      return watched(kernel.destroy(), "a kernel did not go away");
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
    case "abort": {
      const run = runs.get(message.rid);
      if (!run || run.signal.aborted) return;
      run.abort(new StepAbort(message.reason));
      const timer = setTimeout(() => runs.get(message.rid) === run && giveUp("an aborted run did not stop"), WEDGED_MS);
      timer.unref();
      return;
    }
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
        send({ t: "reply", rid, ok: true, value, stats: kernels.get(kid)?.stats(), ...takeOutput(rid) });
      } catch (error) {
        send({ t: "reply", rid, ok: false, error: toWire(error), ...takeOutput(rid) });
      }
    }
  }
}

process.on("message", (batch: ToChild[]) => {
  for (const message of batch) void handle(message);
});
// Not process.exit(): its clean-up waits for every isolate thread, and one stuck as described
// at WEDGED_MS would keep this process, orphaned, burning a core after the server is gone.
process.on("disconnect", () => process.kill(process.pid, "SIGKILL"));
send({ t: "ready" });
