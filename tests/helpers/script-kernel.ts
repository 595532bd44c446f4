// A real kernel for the tests of the session layer: a tiny line language run over
// the session's VFS, so runs, flushes, input, timeouts and files can be exercised
// without isolates or containers. Commands are separated by newlines or ";".
//
//   print TEXT | eprint TEXT     a line on stdout / stderr
//   chunk TEXT                   TEXT on stdout with no newline
//   html TEXT | media MIME TEXT  rich console items
//   exit N                       stop with exit code N
//   sleep MS                     wait (abortable)
//   spin                         never finish on its own (until aborted)
//   input PROMPT                 ask for input, then print "got: <text>"
//   password PROMPT              the same, as a password prompt
//   flood N [stderr]             N characters of "x" in 1 KiB chunks
//   write PATH TEXT | cat PATH   session files
//   set NAME VALUE | get NAME    state that survives between runs until restart
//   env NAME                     print an environ value
//   fail                         throw inside the kernel (a kernel bug)
//
// Batch "*" defaults: clean and build do nothing unless clean.script / build.script
// exist; exec runs main.script, or exits 127 when it is missing.

import type { BatchStep, Kernel, KernelContext, KernelFactory, StepIO } from "../../src/kernels/kernel.ts";

export function scriptKernelFactory(options: { vfs?: "memory" | "disk"; images?: string[] } = {}): KernelFactory & {
  created: number;
  destroyed: number;
} {
  const factory = {
    name: "script",
    images: options.images ?? ["script"],
    vfs: options.vfs ?? "memory",
    created: 0,
    destroyed: 0,
    async create(context: KernelContext): Promise<Kernel> {
      factory.created++;
      return new ScriptKernel(context, () => factory.destroyed++);
    },
  };
  return factory;
}

class ScriptKernel implements Kernel {
  private vars = new Map<string, string>();
  private runs = 0;

  constructor(
    private readonly context: KernelContext,
    private readonly onDestroy: () => void,
  ) {}

  async step(step: BatchStep, command: string, io: StepIO): Promise<number> {
    if (command !== "*") return this.run(command, io);
    const file = `${step === "exec" ? "main" : step}.script`;
    const stat = await this.context.vfs.stat(file);
    if (!stat) {
      if (step !== "exec") return 0;
      io.write("stderr", `${file}: not found\n`);
      return 127;
    }
    return this.run(new TextDecoder().decode(await this.context.vfs.readFile(file)), io);
  }

  query(code: string, io: StepIO): Promise<number> {
    return this.run(code, io);
  }

  async complete(code: string): Promise<string[]> {
    return ["print", "eprint", "exit"].filter((c) => c.startsWith(code));
  }

  async restart(): Promise<void> {
    this.vars.clear();
  }

  async destroy(): Promise<void> {
    this.onDestroy();
  }

  stats(): Record<string, number> {
    return { runs: this.runs };
  }

  private async run(script: string, io: StepIO): Promise<number> {
    this.runs++;
    for (const line of script.split(/[\n;]/)) {
      const [cmd = "", ...rest] = line.trim().split(" ");
      const arg = rest.join(" ");
      if (io.signal.aborted) return 130;
      switch (cmd) {
        case "":
          break;
        case "print":
          io.write("stdout", arg + "\n");
          break;
        case "eprint":
          io.write("stderr", arg + "\n");
          break;
        case "chunk":
          io.write("stdout", arg);
          break;
        case "html":
          io.emit(["html", arg]);
          break;
        case "media":
          io.emit(["media", [rest[0] ?? "text/plain", rest.slice(1).join(" ")]]);
          break;
        case "exit":
          return Number(arg);
        case "sleep":
          await abortableSleep(Number(arg), io.signal);
          break;
        case "spin":
          await abortableSleep(Number.MAX_SAFE_INTEGER, io.signal);
          break;
        case "input":
        case "password":
          try {
            const text = await io.readInput({ isPassword: cmd === "password", prompt: arg });
            io.write("stdout", `got: ${text}\n`);
          } catch {
            return 130;
          }
          break;
        case "flood": {
          const stream = rest[1] === "stderr" ? "stderr" : "stdout";
          let left = Number(rest[0]);
          const block = "x".repeat(1024);
          while (left > 0) {
            io.write(stream, left >= 1024 ? block : block.slice(0, left));
            left -= 1024;
          }
          break;
        }
        case "write":
          await this.context.vfs.writeFiles([{ path: rest[0] ?? "", data: new TextEncoder().encode(rest.slice(1).join(" ")) }]);
          break;
        case "cat":
          io.write("stdout", await this.context.vfs.readFile(arg));
          break;
        case "set":
          this.vars.set(rest[0] ?? "", rest.slice(1).join(" "));
          break;
        case "get":
          io.write("stdout", (this.vars.get(arg) ?? "") + "\n");
          break;
        case "env":
          io.write("stdout", (this.context.environ[arg] ?? "") + "\n");
          break;
        case "fail":
          throw new Error("script kernel failure");
        default:
          io.write("stderr", `${cmd}: unsupported command\n`);
          return 127;
      }
    }
    return 0;
  }
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, Math.min(ms, 2 ** 31 - 1));
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done);
  });
}
