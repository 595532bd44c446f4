// The registry: session creation with Backend.AI's reuse rules, image references,
// resource limits, look-up by UUID and name, the session limit, idle collection
// and shutdown.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseConfig, type KilnConfigInput } from "../../src/config.ts";
import { Catalog } from "../../src/kernels/catalog.ts";
import type { KernelFactory } from "../../src/kernels/kernel.ts";
import { SessionError, type SessionErrorCode } from "../../src/sessions/errors.ts";
import { Registry, type CreateRequest } from "../../src/sessions/registry.ts";
import type { RunResult } from "../../src/sessions/run.ts";
import type { Session } from "../../src/sessions/session.ts";
import { scriptKernelFactory } from "../helpers/script-kernel.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function registryWith(config: KilnConfigInput = {}, factories: KernelFactory[] = [scriptKernelFactory()]): Registry {
  return new Registry(parseConfig({ flushIntervalMs: 50, ...config }), new Catalog(factories));
}

function req(name: string, extra: Partial<CreateRequest> = {}): CreateRequest {
  return { owner: null, image: "script", name, environ: {}, reuseIfExists: true, tag: null, ...extra };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function rejectsCode(fn: () => unknown, code: SessionErrorCode): Promise<SessionError> {
  let caught: unknown;
  try {
    await fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof SessionError, `expected SessionError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

async function runToEnd(session: Session, runId: string, code: string): Promise<RunResult[]> {
  const results = [await session.start(runId, { mode: "query", code })];
  while (!["finished", "exec-timeout"].includes(results.at(-1)!.status)) results.push(await session.continue(runId));
  return results;
}

function stdout(results: RunResult[]): string {
  return results.flatMap((r) => r.console.filter((i) => i[0] === "stdout").map((i) => i[1] as string)).join("");
}

/** Runs a test body against a fresh registry and always closes it. */
async function withRegistry(
  body: (registry: Registry, factory: ReturnType<typeof scriptKernelFactory>) => Promise<void>,
  config: KilnConfigInput = {},
  factory = scriptKernelFactory(),
): Promise<void> {
  const registry = registryWith(config, [factory]);
  try {
    await body(registry, factory);
  } finally {
    await registry.close();
  }
}

describe("registry: create and reuse", () => {
  it("creates a session with a UUID, the canonical image, its name, tag, environ and kernel", () =>
    withRegistry(async (registry, factory) => {
      const { session, created } = await registry.create(req("alpha", { tag: "t1", environ: { A: "1" } }));
      assert.equal(created, true);
      assert.match(session.id, UUID);
      assert.equal(session.name, "alpha");
      assert.equal(session.status, "RUNNING");
      assert.equal(session.init.image, "script");
      assert.equal(session.init.tag, "t1");
      assert.deepEqual(session.init.environ, { A: "1" });
      assert.equal(session.init.kernelName, "script");
      assert.equal(session.vfs.kind, "memory");
      assert.equal(factory.created, 1);
      assert.equal(registry.size, 1);
      assert.deepEqual(registry.sessions(), [session]);
    }));

  it("the same name with reuseIfExists answers the existing session, created false", () =>
    withRegistry(async (registry, factory) => {
      const first = await registry.create(req("beta"));
      const again = await registry.create(req("beta"));
      assert.equal(again.created, false);
      assert.equal(again.session, first.session);
      assert.equal(factory.created, 1);
      assert.equal(registry.size, 1);
    }));

  it("reuse matches image references, not their spelling", () =>
    withRegistry(
      async (registry) => {
        const first = await registry.create(req("py", { image: "python" }));
        const again = await registry.create(req("py", { image: "cr.backend.ai/stable/python:3.11-ubuntu22.04" }));
        assert.equal(again.created, false);
        assert.equal(again.session, first.session);
      },
      {},
      scriptKernelFactory({ images: ["script", "python"] }),
    ));

  it("session-exists with data.existingSessionId when reuseIfExists is false", () =>
    withRegistry(async (registry, factory) => {
      const { session } = await registry.create(req("gamma"));
      const error = await rejectsCode(() => registry.create(req("gamma", { reuseIfExists: false })), "session-exists");
      assert.deepEqual(error.data, { existingSessionId: session.id });
      assert.equal(factory.created, 1);
    }));

  it("session-exists when the same name asks for another image, even with reuseIfExists", () =>
    withRegistry(
      async (registry) => {
        const { session } = await registry.create(req("delta", { image: "script" }));
        const error = await rejectsCode(() => registry.create(req("delta", { image: "python" })), "session-exists");
        assert.deepEqual(error.data, { existingSessionId: session.id });
      },
      {},
      scriptKernelFactory({ images: ["script", "python"] }),
    ));

  it("concurrent creates of one name yield one session: created true once, false for the rest", () =>
    withRegistry(async (registry, factory) => {
      const all = await Promise.all(Array.from({ length: 6 }, () => registry.create(req("same"))));
      assert.equal(all.filter((c) => c.created).length, 1);
      assert.equal(new Set(all.map((c) => c.session.id)).size, 1);
      assert.equal(factory.created, 1);
      assert.equal(registry.size, 1);
    }));

  it("concurrent creates of one name without reuse: one created, the rest session-exists", () =>
    withRegistry(async (registry, factory) => {
      const all = await Promise.allSettled(Array.from({ length: 4 }, () => registry.create(req("excl", { reuseIfExists: false }))));
      const ok = all.filter((r) => r.status === "fulfilled");
      const refused = all.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      assert.equal(ok.length, 1);
      assert.equal(refused.length, 3);
      for (const r of refused) assert.equal((r.reason as SessionError).code, "session-exists");
      assert.equal(factory.created, 1);
    }));

  it("a kernel that cannot start → kernel-failed; nothing is registered and the name stays free", async () => {
    let fail = true;
    const base = scriptKernelFactory();
    const flaky: KernelFactory = {
      ...base,
      async create(context) {
        if (fail) throw new Error("no kernel today");
        return base.create(context);
      },
    };
    const registry = registryWith({}, [flaky]);
    try {
      const error = await rejectsCode(() => registry.create(req("flaky")), "kernel-failed");
      assert.match(error.message, /no kernel today/);
      assert.equal(registry.size, 0);
      await rejectsCode(() => registry.get("flaky", null), "no-such-session");
      fail = false;
      assert.equal((await registry.create(req("flaky"))).created, true);
    } finally {
      await registry.close();
    }
  });

  it("a disk-backed kernel without a data directory → kernel-failed", () =>
    withRegistry(
      async (registry, factory) => {
        await rejectsCode(() => registry.create(req("disk")), "kernel-failed");
        assert.equal(factory.created, 0);
        assert.equal(registry.size, 0);
      },
      {},
      scriptKernelFactory({ vfs: "disk" }),
    ));
});

describe("registry: look-up and destroy", () => {
  it("get by UUID (any case) and by name", () =>
    withRegistry(async (registry) => {
      const { session } = await registry.create(req("lookup"));
      assert.equal(registry.get(session.id, null), session);
      assert.equal(registry.get(session.id.toUpperCase(), null), session);
      assert.equal(registry.get("lookup", null), session);
    }));

  it("no-such-session for unknown references; names are case-sensitive", () =>
    withRegistry(async (registry) => {
      await registry.create(req("CaseName"));
      await rejectsCode(() => registry.get("nope", null), "no-such-session");
      await rejectsCode(() => registry.get(crypto.randomUUID(), null), "no-such-session");
      await rejectsCode(() => registry.get("casename", null), "no-such-session");
    }));

  it("destroy: no-such-session afterwards (by id and name), kernel destroyed, stats answered", () =>
    withRegistry(async (registry, factory) => {
      const { session } = await registry.create(req("doomed"));
      await runToEnd(session, "r", "print hi");
      const stats = await registry.destroy("doomed", null);
      assert.equal(stats.numQueriesExecuted, 1);
      assert.equal(typeof stats.ageMs, "number");
      assert.equal(factory.destroyed, 1);
      assert.equal(session.status, "TERMINATED");
      await rejectsCode(() => registry.get(session.id, null), "no-such-session");
      await rejectsCode(() => registry.get("doomed", null), "no-such-session");
      await rejectsCode(() => registry.destroy(session.id, null), "no-such-session");
      assert.equal(registry.size, 0);
    }));

  it("a name is free again after destroy: a new session with a new id", () =>
    withRegistry(async (registry) => {
      const first = await registry.create(req("phoenix"));
      await registry.destroy(first.session.id, null);
      const second = await registry.create(req("phoenix", { reuseIfExists: false }));
      assert.equal(second.created, true);
      assert.notEqual(second.session.id, first.session.id);
      assert.equal(registry.get("phoenix", null), second.session);
    }));

  it("sessions are isolated: files and kernel state", () =>
    withRegistry(async (registry) => {
      const a = (await registry.create(req("iso-a"))).session;
      const b = (await registry.create(req("iso-b"))).session;
      await runToEnd(a, "1", "set k a-value; write only-a.txt x");
      assert.equal(stdout(await runToEnd(b, "2", "get k")), "\n");
      assert.equal(await b.vfs.stat("only-a.txt"), null);
    }));
});

describe("registry: limits", () => {
  it("too-many-sessions at maxSessions; a slot frees up after destroy", () =>
    withRegistry(
      async (registry, factory) => {
        await registry.create(req("one"));
        const two = await registry.create(req("two"));
        await rejectsCode(() => registry.create(req("three")), "too-many-sessions");
        assert.equal(factory.created, 2);
        assert.equal((await registry.create(req("two"))).created, false, "reusing an existing session is not a new session");
        await registry.destroy(two.session.id, null);
        assert.equal((await registry.create(req("three"))).created, true);
      },
      { maxSessions: 2 },
    ));

  it("concurrent creates of different names do not exceed maxSessions", () =>
    withRegistry(
      async (registry, factory) => {
        const all = await Promise.allSettled([registry.create(req("race-1")), registry.create(req("race-2")), registry.create(req("race-3"))]);
        const created = all.filter((r) => r.status === "fulfilled").length;
        assert.equal(registry.size, 2, `maxSessions is 2, but ${registry.size} sessions exist`);
        assert.equal(created, 2);
        assert.equal(factory.created, 2);
        for (const r of all) if (r.status === "rejected") assert.equal((r.reason as SessionError).code, "too-many-sessions");
      },
      { maxSessions: 2 },
    ));

  it("over-limit for memoryMiB above maxMemoryMiB and cpus above maxCpus; the maximum itself is fine", () =>
    withRegistry(
      async (registry, factory) => {
        const mem = await rejectsCode(() => registry.create(req("m", { memoryMiB: 1025 })), "over-limit");
        assert.match(mem.message, /1025/);
        const cpu = await rejectsCode(() => registry.create(req("c", { cpus: 3 })), "over-limit");
        assert.match(cpu.message, /3/);
        assert.equal(factory.created, 0);
        const { session } = await registry.create(req("max", { memoryMiB: 1024, cpus: 2 }));
        assert.deepEqual(session.init.limits, { memoryMiB: 1024, cpus: 2, stepTimeoutMs: 60_000, outputBytes: 16 * 1024 * 1024 });
      },
      { maxMemoryMiB: 1024, maxCpus: 2 },
    ));

  it("server defaults apply when a session asks for nothing", () =>
    withRegistry(
      async (registry) => {
        const { session } = await registry.create(req("plain"));
        assert.deepEqual(session.init.limits, { memoryMiB: 256, cpus: 1, stepTimeoutMs: 5000, outputBytes: 16 * 1024 * 1024 });
      },
      { defaultMemoryMiB: 256, defaultCpus: 1, stepTimeoutMs: 5000 },
    ));

  it("a factory's defaults are honoured, its step timeout capped by config.stepTimeoutMs; requests override", async () => {
    const generous = { ...scriptKernelFactory(), defaults: { memoryMiB: 768, cpus: 2, stepTimeoutMs: 120_000 } };
    const strict = { ...scriptKernelFactory({ images: ["python"] }), defaults: { stepTimeoutMs: 1500 } };
    const registry = registryWith({ stepTimeoutMs: 10_000, defaultMemoryMiB: 128, maxMemoryMiB: 2048, maxCpus: 4 }, [generous, strict]);
    try {
      const a = (await registry.create(req("a"))).session;
      assert.deepEqual(a.init.limits, { memoryMiB: 768, cpus: 2, stepTimeoutMs: 10_000, outputBytes: 16 * 1024 * 1024 });
      const b = (await registry.create(req("b", { memoryMiB: 512, cpus: 3 }))).session;
      assert.deepEqual(b.init.limits, { memoryMiB: 512, cpus: 3, stepTimeoutMs: 10_000, outputBytes: 16 * 1024 * 1024 });
      const c = (await registry.create(req("c", { image: "python" }))).session;
      assert.deepEqual(c.init.limits, { memoryMiB: 128, cpus: 1, stepTimeoutMs: 1500, outputBytes: 16 * 1024 * 1024 }, "a stricter kernel default stays");
    } finally {
      await registry.close();
    }
  });

  it("the capped step timeout is the one runs get", () =>
    withRegistry(async (registry) => {
      const { session } = await registry.create(req("timed"));
      const results = await runToEnd(session, "t", "spin");
      assert.equal(results.at(-1)!.status, "exec-timeout");
    }, { stepTimeoutMs: 200 }));
});

describe("registry: images", () => {
  it("unknown-image for a name no language has", () =>
    withRegistry(async (registry) => {
      await rejectsCode(() => registry.create(req("u", { image: "cobol" })), "unknown-image");
      await rejectsCode(() => registry.create(req("u", { image: "cr.backend.ai/stable/fortran:77" })), "unknown-image");
      assert.equal(registry.size, 0);
    }));

  it("unavailable-image for a known language this server has no kernel for", () =>
    withRegistry(async (registry) => {
      const error = await rejectsCode(() => registry.create(req("p", { image: "python" })), "unavailable-image");
      assert.match(error.message, /python/);
      await rejectsCode(() => registry.create(req("p", { image: "lablup/kernel-c:gcc" })), "unavailable-image");
      assert.equal(registry.size, 0);
    }));

  it("maps registry references and aliases to canonical images", () =>
    withRegistry(
      async (registry) => {
        const cases: [string, string][] = [
          ["cr.backend.ai/stable/python:3.11-ubuntu22.04", "python"],
          ["python3", "python"],
          ["lablup/kernel-c:gcc", "c"],
          ["gcc", "c"],
          ["SCRIPT", "script"],
          ["cr.backend.ai/testing/Script:1.0@sha256:abc", "script"],
        ];
        for (const [i, [ref, image]] of cases.entries()) {
          const { session } = await registry.create(req(`img${i}`, { image: ref }));
          assert.equal(session.init.image, image, ref);
        }
      },
      {},
      scriptKernelFactory({ images: ["script", "python", "c"] }),
    ));
});

describe("registry: environ", () => {
  it("config.environ reaches the kernel", () =>
    withRegistry(async (registry) => {
      const { session } = await registry.create(req("env", { environ: { GREETING: "hello there", EMPTY: "" } }));
      assert.equal(stdout(await runToEnd(session, "e", "env GREETING; env EMPTY; env MISSING")), "hello there\n\n\n");
    }));
});

describe("registry: idle collection", () => {
  it("destroys only sessions idle past idleTimeoutMs, and never a busy one", () =>
    withRegistry(
      async (registry, factory) => {
        const old = (await registry.create(req("old"))).session;
        const busy = (await registry.create(req("busy"))).session;
        const spin = await busy.start("spin", { mode: "query", code: "spin" });
        assert.equal(spin.status, "continued");
        await sleep(30);
        const fresh = (await registry.create(req("fresh"))).session;
        await runToEnd(fresh, "touch", "print touched");

        // Nobody is idle long enough yet.
        await registry.collectIdle(Date.now());
        assert.equal(registry.size, 3);

        // Exactly idleTimeoutMs after "old" was last used: "old" goes (busy too would, if it were idle), "fresh" stays.
        await registry.collectIdle(old.lastUsed + 60_000);
        assert.equal(old.status, "TERMINATED");
        assert.equal(fresh.status, "RUNNING");
        await rejectsCode(() => registry.get(old.id, null), "no-such-session");
        assert.equal(factory.destroyed, 1);

        // Far in the future: fresh goes, the spinning session survives.
        await registry.collectIdle(Date.now() + 10 * 60_000);
        assert.equal(fresh.status, "TERMINATED");
        assert.equal(busy.status, "RUNNING");
        assert.equal(registry.get("busy", null), busy);
        assert.equal(factory.destroyed, 2);

        // Once its run ends, it is idle like any other.
        busy.interrupt();
        let r = spin;
        while (r.status !== "finished") r = await busy.continue("spin");
        assert.equal(r.exitCode, 130);
        await registry.collectIdle(Date.now() + 10 * 60_000);
        assert.equal(busy.status, "TERMINATED");
        assert.equal(registry.size, 0);
        assert.equal(factory.destroyed, 3);
      },
      { idleTimeoutMs: 60_000 },
    ));

  it("using a session (get, a run read) keeps it alive", () =>
    withRegistry(
      async (registry) => {
        const { session } = await registry.create(req("used"));
        const created = session.lastUsed;
        await sleep(20);
        registry.get("used", null);
        assert.ok(session.lastUsed > created);
        const touched = session.lastUsed;
        await sleep(20);
        await runToEnd(session, "r", "print x");
        assert.ok(session.lastUsed > touched);
        await registry.collectIdle(touched + 60_000);
        assert.equal(session.status, "RUNNING");
      },
      { idleTimeoutMs: 60_000 },
    ));

  it("a session whose run waits for input that never comes is still collected", () =>
    withRegistry(
      async (registry, factory) => {
        const { session } = await registry.create(req("abandoned"));
        const r = await session.start("ask", { mode: "query", code: "input name?" });
        assert.equal(r.status, "waiting-input");
        // The client went away. The step timer is paused while waiting for input, so only
        // idle collection can ever free this session.
        await registry.collectIdle(Date.now() + 10 * 60_000);
        assert.equal(session.status, "TERMINATED", "a run parked at input must not pin its session for ever");
        assert.equal(factory.destroyed, 1);
      },
      { idleTimeoutMs: 60_000 },
    ));
});

describe("registry: close", () => {
  it("destroys every session, even busy ones, and refuses later creates", async () => {
    const factory = scriptKernelFactory();
    const registry = registryWith({}, [factory]);
    const a = (await registry.create(req("a"))).session;
    const b = (await registry.create(req("b"))).session;
    const spin = await b.start("spin", { mode: "query", code: "spin" });
    assert.equal(spin.status, "continued");
    await registry.close();
    assert.equal(registry.size, 0);
    assert.equal(a.status, "TERMINATED");
    assert.equal(b.status, "TERMINATED");
    assert.equal(factory.destroyed, 2);
    const end = await b.continue("spin");
    assert.deepEqual([end.status, end.exitCode], ["finished", 130]);
    await rejectsCode(() => registry.create(req("late")), "too-many-sessions");
    await rejectsCode(() => registry.get("a", null), "no-such-session");
    assert.equal(factory.created, 2);
    await registry.close(); // twice is fine
    assert.equal(factory.destroyed, 2);
  });

  it("a create still in flight when close() runs does not leave a live session behind", async () => {
    const factory = scriptKernelFactory();
    const registry = registryWith({}, [factory]);
    const pending = registry.create(req("straggler"));
    await registry.close();
    await pending.catch(() => undefined);
    assert.equal(registry.size, 0, "no session registered after close()");
    assert.equal(factory.destroyed, factory.created, "every kernel created was destroyed");
  });
});
