// The podman kernels' pure parts, without podman: the `podman run` arguments and what
// they refuse, instance ids and liveness, and the host side of the runner protocol
// against a fake runner on a unix socket.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkSessionId, runArgs, type ContainerSpec, type HostInfo } from "../../src/kernels/podman/driver.ts";
import { currentInstanceId, instanceAlive } from "../../src/kernels/podman/instance.ts";
import { imageRef } from "../../src/kernels/podman/languages.ts";
import { PROTOCOL, RunnerChannel, RunnerClosed } from "../../src/kernels/podman/protocol.ts";

const HOST: HostInfo = {
  podmanVersion: "4.3.1",
  cgroupVersion: "v1",
  cgroupManager: "cgroupfs",
  hybrid: true,
  rootless: false,
  defaultRuntime: "crun",
  runtime: "runc",
  ulimits: { nofile: 4096, nproc: 32768 },
  notes: [],
};

const SPEC: ContainerSpec = {
  name: "kiln-0123456789ab",
  image: "localhost/kiln-c:latest",
  labels: { "kiln.instance": "vm-1-2", "kiln.session": "0b7e6c1c-6f0e-4f4e-9d1e-3c3c3c3c3c3c" },
  socketDir: "/run/kiln-podman/vm-1-2/kiln-0123456789ab/sock",
  workDir: "/run/kiln-podman/vm-1-2/kiln-0123456789ab/work",
  propagation: "rslave",
  memoryMiB: 512,
  cpus: 1.5,
  pidsLimit: 256,
  tmpMiB: 256,
  fileSizeMiB: 256,
};

describe("podman driver: run arguments", () => {
  it("hardens the container and passes every limit explicitly", () => {
    const args = runArgs(SPEC, HOST);
    for (const flag of ["--network=none", "--cap-drop=ALL", "--security-opt=no-new-privileges", "--read-only", "--rm", "--pull=never"]) {
      assert.ok(args.includes(flag), flag);
    }
    const after = (flag: string) => args.filter((_, i) => args[i - 1] === flag);
    assert.deepEqual(after("--runtime"), ["runc"]);
    assert.deepEqual(after("--memory"), ["512m"]);
    assert.deepEqual(after("--memory-swap"), ["512m"]);
    assert.deepEqual(after("--cpus"), ["1.5"]);
    assert.deepEqual(after("--pids-limit"), ["256"]);
    assert.deepEqual(after("--user"), ["1000:1000"]);
    assert.deepEqual(after("--ulimit"), ["nofile=4096:4096", "nproc=32768:32768", `fsize=${256 * 2 ** 20}:${256 * 2 ** 20}`, "core=0:0"]);
    assert.deepEqual(after("--tmpfs"), ["/tmp:rw,nosuid,nodev,size=256m,mode=1777", "/var/tmp:rw,nosuid,nodev,size=16m,mode=1777"]);
    assert.deepEqual(after("--volume"), [`${SPEC.socketDir}:/run/kiln:rw`, `${SPEC.workDir}:/home/work:rw,rslave`]);
    assert.deepEqual(args.slice(-3), ["localhost/kiln-c:latest", "/opt/kiln/runner", "/run/kiln/runner.sock"]);
  });

  it("leaves --runtime out where podman's default works", () => {
    assert.ok(!runArgs(SPEC, { ...HOST, runtime: null }).includes("--runtime"));
  });

  const refused: Array<[string, Partial<ContainerSpec>]> = [
    ["an image not of ours", { image: "docker.io/library/debian:latest" }],
    ["an option as image", { image: "--privileged" }],
    ["a name with an option", { name: "--privileged" }],
    ["a path with a colon (another -v field)", { workDir: "/tmp/a:/etc" }],
    ["a path with a comma (another mount option)", { workDir: "/tmp/a,rw" }],
    ["a relative path", { socketDir: "tmp/x" }],
    ["a path going up", { socketDir: "/tmp/../etc" }],
    ["a label with a newline", { labels: { "kiln.session": "a\nb" } }],
    ["a foreign label key", { labels: { "io.podman": "x" } }],
    ["memory that is not a whole number", { memoryMiB: 1.5 }],
    ["no CPUs", { cpus: 0 }],
  ];
  for (const [what, change] of refused) {
    it(`refuses ${what}`, () => {
      assert.throws(() => runArgs({ ...SPEC, ...change }, HOST), /refusing/);
    });
  }

  it("accepts session ids that are UUIDs only", () => {
    assert.equal(checkSessionId("0b7e6c1c-6f0e-4f4e-9d1e-3c3c3c3c3c3c"), "0b7e6c1c-6f0e-4f4e-9d1e-3c3c3c3c3c3c");
    for (const bad of ["", "../x", "0b7e6c1c-6f0e-4f4e-9d1e-3c3c3c3c3c3c\n", "--rm"]) assert.throws(() => checkSessionId(bad));
  });

  it("maps only known languages to images", () => {
    assert.equal(imageRef("python"), "localhost/kiln-python:latest");
    assert.throws(() => imageRef("python:latest --privileged"));
    assert.throws(() => imageRef("javascript"));
  });
});

describe("podman instances", () => {
  it("this process is alive; a pid with another start time, a dead pid and another host are not (or unknown)", () => {
    const self = currentInstanceId();
    assert.match(self, /^[A-Za-z0-9._]+-\d+-\d+$/);
    assert.equal(instanceAlive(self), true);
    const [host, pid, start] = /^(.+)-(\d+)-(\d+)$/.exec(self)!.slice(1);
    assert.equal(instanceAlive(`${host}-${pid}-${Number(start) + 1}`), false, "a recycled pid");
    assert.equal(instanceAlive(`${host}-4194304-1`), false, "no such pid");
    assert.equal(instanceAlive(`other_host-${pid}-${start}`), null);
    assert.equal(instanceAlive("not an id"), null);
  });
});

describe("podman runner protocol (host side)", () => {
  let dir: string;
  let server: Server;
  let peer: (socket: Socket) => void;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "kiln-proto-"));
    server = createServer((socket) => peer(socket));
    await new Promise<void>((resolve) => server.listen(join(dir, "runner.sock"), resolve));
  });
  after(async () => {
    server.close();
    await rm(dir, { recursive: true, force: true });
  });

  const frame = (type: string, payload: Buffer | string = Buffer.alloc(0)) => {
    const body = typeof payload === "string" ? Buffer.from(payload) : payload;
    const head = Buffer.alloc(5);
    head.write(type, 0, "latin1");
    head.writeUInt32BE(body.length, 1);
    return Buffer.concat([head, body]);
  };
  const exit = (code: number, flags: number, rss: number) => {
    const payload = Buffer.alloc(9);
    payload.writeInt32BE(code, 0);
    payload[4] = flags;
    payload.writeUInt32BE(rss, 5);
    return frame("Z", payload);
  };

  /** Calls `onFrame` for each frame the host sends. */
  const frames = (socket: Socket, onFrame: (type: string, payload: Buffer) => void) => {
    let buffer = Buffer.alloc(0);
    socket.on("data", (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      while (buffer.length >= 5 && buffer.length >= 5 + buffer.readUInt32BE(1)) {
        const length = buffer.readUInt32BE(1);
        onFrame(String.fromCharCode(buffer[0]!), buffer.subarray(5, 5 + length));
        buffer = buffer.subarray(5 + length);
      }
    });
  };

  it("sends an exec frame and relays output, input requests and the exit report", async () => {
    const sent: Array<[string, Buffer]> = [];
    peer = (socket) => {
      socket.write(frame("H", PROTOCOL));
      frames(socket, (type, payload) => {
        sent.push([type, payload]);
        if (type === "X") {
          // Output split across writes, then an input request.
          const out = frame("O", "héllo");
          socket.write(out.subarray(0, 3));
          setTimeout(() => socket.write(Buffer.concat([out.subarray(3), frame("E", "warn\n"), frame("W", Buffer.from([1]))])), 5);
        }
        if (type === "I") socket.write(exit(137, 1, 2048));
      });
    };
    const channel = await RunnerChannel.connect(join(dir, "runner.sock"));
    const output: string[] = [];
    let password: boolean | null = null;
    const report = await channel.exec({ kind: "shell", command: "echo hi", env: ["A=1"] }, 1024, {
      output: (stream, data) => output.push(`${stream}:${Buffer.from(data).toString()}`),
      waiting: (isPassword) => {
        password = isPassword;
        channel.input("answer\n");
      },
    });
    assert.deepEqual(report, { code: 137, oom: true, killed: false, peakRssKiB: 2048 });
    assert.deepEqual(output, ["stdout:héllo", "stderr:warn\n"]);
    assert.equal(password, true);
    assert.deepEqual(sent.map(([type]) => type), ["X", "I"]);
    const payload = sent[0]![1];
    assert.equal(payload[0], 0, "kind shell");
    assert.equal(payload.readUInt32BE(1), 1024, "output cap");
    assert.equal(payload.readUInt32BE(5), 2, "two fields");
    assert.equal(payload.subarray(13, 13 + payload.readUInt32BE(9)).toString(), "echo hi");
    assert.equal(sent[1]![1].toString(), "answer\n");
    channel.close();
  });

  it("refuses NUL in a command and a second step at once", async () => {
    peer = (socket) => socket.write(frame("H", PROTOCOL));
    const channel = await RunnerChannel.connect(join(dir, "runner.sock"));
    const quiet = { output: () => undefined, waiting: () => undefined };
    await assert.rejects(channel.exec({ kind: "shell", command: "a\0b", env: [] }, 0, quiet), /NUL/);
    const first = channel.exec({ kind: "shell", command: "sleep 1", env: [] }, 0, quiet);
    await assert.rejects(channel.exec({ kind: "shell", command: "true", env: [] }, 0, quiet), /already running/);
    channel.close();
    await assert.rejects(first, RunnerClosed);
  });

  it("drops a runner that breaks the protocol (an oversized frame, an unknown type, a wrong hello)", async () => {
    const quiet = { output: () => undefined, waiting: () => undefined };
    const huge = Buffer.alloc(5);
    huge.write("O", 0, "latin1");
    huge.writeUInt32BE(64 << 20, 1);
    for (const bad of [huge, frame("?", "x")]) {
      peer = (socket) => socket.write(Buffer.concat([frame("H", PROTOCOL)]), () => setTimeout(() => socket.write(bad), 20));
      const channel = await RunnerChannel.connect(join(dir, "runner.sock"));
      await assert.rejects(channel.exec({ kind: "shell", command: "true", env: [] }, 0, quiet), /broke the protocol/);
      assert.equal(channel.closed, true);
    }
    peer = (socket) => socket.write(frame("H", "someone-else/9"));
    await assert.rejects(RunnerChannel.connect(join(dir, "runner.sock")), /broke the protocol/);
  });

  it("rejects the running step when the runner goes away", async () => {
    peer = (socket) => {
      socket.write(frame("H", PROTOCOL));
      socket.once("data", () => socket.destroy());
    };
    const channel = await RunnerChannel.connect(join(dir, "runner.sock"));
    let closed = false;
    channel.onClose(() => (closed = true));
    await assert.rejects(channel.exec({ kind: "shell", command: "true", env: [] }, 0, { output: () => undefined, waiting: () => undefined }), RunnerClosed);
    assert.equal(closed, true);
  });
});
