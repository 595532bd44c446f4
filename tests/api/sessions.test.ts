// Session lifecycle over the API: version probe, create (names, images, reuse,
// resources, environ, limits), info, destroy, restart, interrupt and logs.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  API_VERSION,
  UUID_V4,
  assertProblem,
  makeEnv,
  sleep,
  uniqueName,
  type Client,
  type TestEnv,
} from "../helpers/client.ts";
import { scriptKernelFactory } from "../helpers/script-kernel.ts";

describe("GET /", () => {
  let env: TestEnv;
  before(async () => {
    env = await makeEnv();
  });
  after(() => env.close());

  it("answers the API version and the manager version", async () => {
    const res = await env.client.get("/");
    assert.equal(res.status, 200);
    assert.match(res.contentType, /^application\/json/);
    assert.equal(res.json.version, API_VERSION);
    assert.equal(typeof res.json.manager, "string");
    assert.ok(res.json.manager.length > 0);
  });
});

describe("POST /session", () => {
  let env: TestEnv;
  let client: Client;
  before(async () => {
    // A second factory serving "bash" gives a second known image for the conflict tests.
    env = await makeEnv({
      config: { maxMemoryMiB: 1024, maxCpus: 2 },
      extraKernels: [scriptKernelFactory({ images: ["bash"] })],
    });
    client = env.client;
  });
  after(() => env.close());

  it("creates a session: 201 with sessionId, sessionName, RUNNING, servicePorts, created", async () => {
    const name = uniqueName();
    const res = await client.createSession({ lang: "script", clientSessionToken: name });
    assert.equal(res.status, 201, res.text);
    assert.match(res.contentType, /^application\/json/);
    assert.equal(typeof res.json.sessionId, "string");
    assert.match(res.json.sessionId, UUID_V4);
    assert.equal(res.json.sessionName, name);
    assert.equal(res.json.status, "RUNNING");
    assert.deepEqual(res.json.servicePorts, []);
    assert.equal(res.json.created, true);
  });

  it("accepts the alias POST /session/_/create", async () => {
    const name = uniqueName();
    const res = await client.createSession({ lang: "script", clientSessionToken: name }, "/session/_/create");
    assert.equal(res.status, 201, res.text);
    assert.match(res.json.sessionId, UUID_V4);
    assert.equal(res.json.sessionName, name);
    assert.equal(res.json.created, true);
  });

  it("accepts image instead of lang and name instead of clientSessionToken", async () => {
    const name = uniqueName();
    const res = await client.createSession({ image: "script", name });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.json.sessionName, name);
    const info = await client.info(res.json.sessionId);
    assert.equal(info.status, 200, info.text);
    assert.equal(info.json.image, "script");
  });

  it("gives every session a distinct UUID", async () => {
    const a = await client.newSession();
    const b = await client.newSession();
    assert.notEqual(a, b);
  });

  it("reuses a live session with the same name and image: 201, created false, same sessionId", async () => {
    const name = uniqueName();
    const first = await client.createSession({ lang: "script", clientSessionToken: name });
    assert.equal(first.status, 201, first.text);
    const second = await client.createSession({ lang: "script", clientSessionToken: name });
    assert.equal(second.status, 201, second.text);
    assert.equal(second.json.created, false);
    assert.equal(second.json.sessionId, first.json.sessionId);
    assert.equal(second.json.sessionName, name);
  });

  it("same name with another image → 400 session-already-exists with data.existingSessionId", async () => {
    const name = uniqueName();
    const first = await client.createSession({ lang: "script", clientSessionToken: name });
    assert.equal(first.status, 201, first.text);
    const res = await client.createSession({ lang: "bash", clientSessionToken: name });
    assertProblem(res, 400, "session-already-exists");
    assert.equal(res.json.data?.existingSessionId, first.json.sessionId);
  });

  it("reuseIfExists: false → 400 session-already-exists with data.existingSessionId", async () => {
    const name = uniqueName();
    const first = await client.createSession({ lang: "script", clientSessionToken: name });
    assert.equal(first.status, 201, first.text);
    const res = await client.createSession({ lang: "script", clientSessionToken: name, reuseIfExists: false });
    assertProblem(res, 400, "session-already-exists");
    assert.equal(res.json.data?.existingSessionId, first.json.sessionId);
  });

  it("reuseIfExists: true (explicit) reuses", async () => {
    const name = uniqueName();
    const first = await client.createSession({ lang: "script", clientSessionToken: name });
    const again = await client.createSession({ lang: "script", clientSessionToken: name, reuseIfExists: true });
    assert.equal(again.status, 201, again.text);
    assert.equal(again.json.created, false);
    assert.equal(again.json.sessionId, first.json.sessionId);
  });

  it("accepts a tag", async () => {
    const res = await client.createSession({ lang: "script", clientSessionToken: uniqueName(), tag: "my-tag" });
    assert.equal(res.status, 201, res.text);
  });

  describe("session names", () => {
    for (const name of ["abcd", "a".repeat(64), "a.b-c_d", "A_1.2-3", "____", "9lives"]) {
      it(`accepts ${JSON.stringify(name.length > 20 ? `${name.length} chars` : name)}`, async () => {
        // Unique per run: names above are fixed, so delete afterwards.
        const res = await client.createSession({ lang: "script", clientSessionToken: name });
        assert.equal(res.status, 201, res.text);
        const del = await client.destroy(res.json.sessionId);
        assert.equal(del.status, 200, del.text);
      });
    }

    const bad: [string, string][] = [
      ["3 chars", "abc"],
      ["65 chars", "a".repeat(65)],
      ["empty", ""],
      ["a leading dash", "-abcd"],
      ["a trailing dash", "abcd-"],
      ["a leading dot", ".abcd"],
      ["a trailing dot", "abcd."],
      ["a space", "ab cd"],
      ["a slash", "ab/cd"],
      ["non-ASCII", "héllo"],
      ["a newline", "abcd\nefgh"],
    ];
    for (const [what, name] of bad) {
      it(`rejects a name with ${what} → 400 invalid-api-params naming the field`, async () => {
        const res = await client.createSession({ lang: "script", clientSessionToken: name });
        assertProblem(res, 400, "invalid-api-params", { msg: /clientSessionToken|name/i });
      });
    }

    it("rejects a bad name given as `name` too", async () => {
      const res = await client.createSession({ lang: "script", name: "x" });
      assertProblem(res, 400, "invalid-api-params", { msg: /clientSessionToken|name/i });
    });

    it("rejects a name that is not a string", async () => {
      const res = await client.createSession({ lang: "script", clientSessionToken: 12345 });
      assertProblem(res, 400, "invalid-api-params", { msg: /clientSessionToken|name/i });
    });
  });

  it("missing name → 400 invalid-api-params naming the field", async () => {
    const res = await client.createSession({ lang: "script" });
    assertProblem(res, 400, "invalid-api-params", { msg: /clientSessionToken|name/i });
  });

  it("missing lang/image → 400 invalid-api-params naming the field", async () => {
    const res = await client.createSession({ clientSessionToken: uniqueName() });
    assertProblem(res, 400, "invalid-api-params", { msg: /lang|image/i });
  });

  it("a lang that is not a string → 400 invalid-api-params naming the field", async () => {
    const res = await client.createSession({ lang: 42, clientSessionToken: uniqueName() });
    assertProblem(res, 400, "invalid-api-params", { msg: /lang|image/i });
  });

  it("unknown image → 404 object-not-found, No such environment image.", async () => {
    const res = await client.createSession({ lang: "nosuchlang", clientSessionToken: uniqueName() });
    assertProblem(res, 404, "object-not-found", { title: "No such environment image." });
  });

  it("a known language with no kernel on this server → 503 instance-not-available", async () => {
    const res = await client.createSession({ lang: "python", clientSessionToken: uniqueName() });
    assertProblem(res, 503, "instance-not-available");
  });

  for (const ref of ["cr.backend.ai/stable/script:1.0-ubuntu", "script:latest"]) {
    it(`resolves the image reference ${ref} to the script kernel`, async () => {
      const res = await client.createSession({ image: ref, clientSessionToken: uniqueName() });
      assert.equal(res.status, 201, res.text);
      const run = await client.query(res.json.sessionId, "print ref-ok");
      assert.equal(run.stdout, "ref-ok\n");
    });
  }

  describe("config.environ", () => {
    it("is visible to the kernel", async () => {
      const id = await client.newSession({ config: { environ: { GREETING: "hello there", _X1: "y" } } });
      const run = await client.query(id, "env GREETING; env _X1");
      assert.equal(run.final.status, "finished");
      assert.equal(run.stdout, "hello there\ny\n");
    });

    for (const key of ["1BAD", "A-B", "A B", "", "É"]) {
      it(`rejects the key ${JSON.stringify(key)} → 400 invalid-api-params`, async () => {
        const res = await client.createSession({
          lang: "script",
          clientSessionToken: uniqueName(),
          config: { environ: { [key]: "v" } },
        });
        assertProblem(res, 400, "invalid-api-params");
      });
    }

    for (const value of [5, null, true, { a: 1 }]) {
      it(`rejects the value ${JSON.stringify(value)} → 400 invalid-api-params`, async () => {
        const res = await client.createSession({
          lang: "script",
          clientSessionToken: uniqueName(),
          config: { environ: { KEY: value } },
        });
        assertProblem(res, 400, "invalid-api-params");
      });
    }

    it("rejects environ that is not an object → 400", async () => {
      const res = await client.createSession({
        lang: "script",
        clientSessionToken: uniqueName(),
        config: { environ: ["A=b"] },
      });
      assertProblem(res, 400, "invalid-api-params");
    });
  });

  describe("config.resources", () => {
    const ok: [string, unknown][] = [
      ["mem in bytes", { mem: 268435456 }],
      ['mem "512m"', { mem: "512m" }],
      ['mem "1g"', { mem: "1g" }],
      ["cpu number", { cpu: 1 }],
      ['cpu numeric string "2"', { cpu: "2" }],
      ["both", { cpu: 1, mem: "256m" }],
      ["empty", {}],
    ];
    for (const [what, resources] of ok) {
      it(`accepts ${what}`, async () => {
        const res = await client.createSession({ lang: "script", clientSessionToken: uniqueName(), config: { resources } });
        assert.equal(res.status, 201, res.text);
      });
    }

    it("shows the requested memory in the session's limits", async () => {
      const id = await client.newSession({ config: { resources: { mem: "512m", cpu: 2 } } });
      const info = await client.info(id);
      assert.equal(info.status, 200, info.text);
      assert.equal(typeof info.json.limits, "object");
      const limits = JSON.stringify(info.json.limits);
      assert.match(limits, /512/, `limits ${limits} mention 512 MiB`);
    });

    it("memory above the server maximum → 412 quota-exceeded", async () => {
      const res = await client.createSession({
        lang: "script",
        clientSessionToken: uniqueName(),
        config: { resources: { mem: "2g" } },
      });
      assertProblem(res, 412, "quota-exceeded");
    });

    it("memory in bytes above the server maximum → 412 quota-exceeded", async () => {
      const res = await client.createSession({
        lang: "script",
        clientSessionToken: uniqueName(),
        config: { resources: { mem: 2 * 1024 * 1024 * 1024 } },
      });
      assertProblem(res, 412, "quota-exceeded");
    });

    it("cpu above the server maximum → 412 quota-exceeded", async () => {
      const res = await client.createSession({
        lang: "script",
        clientSessionToken: uniqueName(),
        config: { resources: { cpu: 4 } },
      });
      assertProblem(res, 412, "quota-exceeded");
    });

    it("cpu string above the server maximum → 412 quota-exceeded", async () => {
      const res = await client.createSession({
        lang: "script",
        clientSessionToken: uniqueName(),
        config: { resources: { cpu: "3" } },
      });
      assertProblem(res, 412, "quota-exceeded");
    });

    for (const [what, resources] of [
      ['mem "lots"', { mem: "lots" }],
      ["negative mem", { mem: -5 }],
      ['cpu "abc"', { cpu: "abc" }],
      ["negative cpu", { cpu: -1 }],
      ["mem as an object", { mem: { a: 1 } }],
    ] as const) {
      it(`rejects ${what} → 400 invalid-api-params`, async () => {
        const res = await client.createSession({ lang: "script", clientSessionToken: uniqueName(), config: { resources } });
        assertProblem(res, 400, "invalid-api-params");
      });
    }
  });
});

describe("config.limits (Kiln's own: tighter limits for one session)", () => {
  let env: TestEnv;
  let client: Client;
  before(async () => {
    env = await makeEnv({ config: { stepTimeoutMs: 5000, runOutputMaxBytes: 4096 } });
    client = env.client;
  });
  after(() => env.close());

  it("applies a shorter step timeout to this session only, and reports both limits in info", async () => {
    const tight = await client.newSession({ config: { limits: { stepTimeoutMs: 150, outputBytes: 2048 } } });
    const info = await client.info(tight);
    assert.equal(info.json.limits.stepTimeoutMs, 150);
    assert.equal(info.json.limits.outputBytes, 2048);
    const run = await client.query(tight, "spin");
    assert.equal(run.final.status, "exec-timeout");
    const roomy = await client.newSession();
    assert.equal((await client.info(roomy)).json.limits.stepTimeoutMs, 5000);
    assert.equal((await client.info(roomy)).json.limits.outputBytes, 4096);
  });

  for (const [what, limits] of [
    ["a step timeout above the server's", { stepTimeoutMs: 5001 }],
    ["an output limit above the server's", { outputBytes: 4097 }],
  ] as const) {
    it(`refuses ${what} → 412 quota-exceeded naming the field`, async () => {
      const res = await client.createSession({ lang: "script", clientSessionToken: uniqueName(), config: { limits } });
      assertProblem(res, 412, "quota-exceeded");
      assert.match(res.json.msg, /config\.limits\./);
    });
  }

  for (const [what, limits] of [
    ["a fractional timeout", { stepTimeoutMs: 1.5 }],
    ["a zero output limit", { outputBytes: 0 }],
    ["a string", { stepTimeoutMs: "fast" }],
    ["an unknown limit", { cpuMs: 10 }],
  ] as const) {
    it(`refuses ${what} → 400 invalid-api-params naming config.limits`, async () => {
      const res = await client.createSession({ lang: "script", clientSessionToken: uniqueName(), config: { limits } });
      assertProblem(res, 400, "invalid-api-params");
      assert.match(res.json.msg, /^config\.limits/);
    });
  }
});

describe("maxSessions", () => {
  let env: TestEnv;
  before(async () => {
    env = await makeEnv({ config: { maxSessions: 2 } });
  });
  after(() => env.close());

  it("a session past the maximum → 503 service-unavailable; a freed slot can be used again", async () => {
    const a = await env.client.newSession();
    await env.client.newSession();
    const third = await env.client.createSession({ lang: "script", clientSessionToken: uniqueName() });
    assertProblem(third, 503, "service-unavailable");
    const del = await env.client.destroy(a);
    assert.equal(del.status, 200, del.text);
    const again = await env.client.createSession({ lang: "script", clientSessionToken: uniqueName() });
    assert.equal(again.status, 201, again.text);
  });

  it("reusing an existing session at the maximum needs no new slot", async () => {
    const solo = await makeEnv({ config: { maxSessions: 1 } });
    try {
      const name = uniqueName();
      const first = await solo.client.createSession({ lang: "script", clientSessionToken: name });
      assert.equal(first.status, 201, first.text);
      const again = await solo.client.createSession({ lang: "script", clientSessionToken: name });
      assert.equal(again.status, 201, again.text);
      assert.equal(again.json.created, false);
      assert.equal(again.json.sessionId, first.json.sessionId);
      assertProblem(await solo.client.createSession({ lang: "script", clientSessionToken: uniqueName() }), 503, "service-unavailable");
    } finally {
      await solo.close();
    }
  });
});

describe("GET /session/:id", () => {
  let env: TestEnv;
  let client: Client;
  before(async () => {
    env = await makeEnv();
    client = env.client;
  });
  after(() => env.close());

  it("answers the session's info by UUID", async () => {
    const name = uniqueName();
    const created = await client.createSession({ lang: "script", clientSessionToken: name });
    const id = created.json.sessionId;
    await sleep(20);
    const res = await client.info(id);
    assert.equal(res.status, 200, res.text);
    assert.match(res.contentType, /^application\/json/);
    const info = res.json;
    assert.equal(info.sessionId, id);
    assert.equal(info.sessionName, name);
    assert.equal(info.lang, "script");
    assert.equal(info.image, "script");
    assert.equal(info.status, "RUNNING");
    assert.equal(typeof info.age, "number");
    assert.ok(info.age >= 0 && info.age < 60_000, `age ${info.age}`);
    assert.equal(typeof info.creationTime, "string");
    const created_at = Date.parse(info.creationTime);
    assert.ok(Number.isFinite(created_at), `creationTime ${info.creationTime} is a date`);
    assert.ok(Math.abs(Date.now() - created_at) < 60_000);
    assert.match(info.creationTime, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}/);
    assert.equal(info.numQueriesExecuted, 0);
    assert.ok(info.limits && typeof info.limits === "object" && !Array.isArray(info.limits));
  });

  it("answers the same info by name", async () => {
    const name = uniqueName();
    const created = await client.createSession({ lang: "script", clientSessionToken: name });
    const res = await client.info(name);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.sessionId, created.json.sessionId);
    assert.equal(res.json.sessionName, name);
  });

  it("age grows", async () => {
    const id = await client.newSession();
    const first = (await client.info(id)).json.age;
    await sleep(60);
    const second = (await client.info(id)).json.age;
    assert.ok(second > first, `${second} > ${first}`);
  });

  it("numQueriesExecuted counts runs", async () => {
    const id = await client.newSession();
    await client.query(id, "print one");
    await client.query(id, "print two");
    const res = await client.info(id);
    assert.equal(res.json.numQueriesExecuted, 2);
  });

  it("unknown name → 404 object-not-found, No such session.", async () => {
    const res = await client.info("no-such-session");
    assertProblem(res, 404, "object-not-found", { title: "No such session." });
  });

  it("unknown UUID → 404 object-not-found, No such session.", async () => {
    const res = await client.info(crypto.randomUUID());
    assertProblem(res, 404, "object-not-found", { title: "No such session." });
  });
});

describe("DELETE /session/:id", () => {
  let env: TestEnv;
  let client: Client;
  before(async () => {
    env = await makeEnv();
    client = env.client;
  });
  after(() => env.close());

  it("answers 200 {stats}; the session is gone and its name can be reused", async () => {
    const name = uniqueName();
    const created = await client.createSession({ lang: "script", clientSessionToken: name });
    const id = created.json.sessionId;
    await client.query(id, "print x");
    const del = await client.destroy(id);
    assert.equal(del.status, 200, del.text);
    assert.match(del.contentType, /^application\/json/);
    assert.ok(del.json.stats && typeof del.json.stats === "object" && !Array.isArray(del.json.stats));

    assertProblem(await client.info(id), 404, "object-not-found", { title: "No such session." });
    assertProblem(await client.info(name), 404, "object-not-found", { title: "No such session." });

    const again = await client.createSession({ lang: "script", clientSessionToken: name });
    assert.equal(again.status, 201, again.text);
    assert.equal(again.json.created, true);
    assert.notEqual(again.json.sessionId, id);
  });

  it("works by name", async () => {
    const name = uniqueName();
    await client.createSession({ lang: "script", clientSessionToken: name });
    const del = await client.destroy(name);
    assert.equal(del.status, 200, del.text);
    assertProblem(await client.info(name), 404, "object-not-found");
  });

  it("destroys the kernel", async () => {
    const before = env.factory.destroyed;
    const id = await client.newSession();
    await client.destroy(id);
    assert.equal(env.factory.destroyed, before + 1);
  });

  it("a second DELETE → 404 object-not-found", async () => {
    const id = await client.newSession();
    assert.equal((await client.destroy(id)).status, 200);
    assertProblem(await client.destroy(id), 404, "object-not-found", { title: "No such session." });
  });

  it("unknown session → 404 object-not-found", async () => {
    assertProblem(await client.destroy(crypto.randomUUID()), 404, "object-not-found", { title: "No such session." });
  });

  it("destroying a session with a running run ends it", async () => {
    const id = await client.newSession();
    const first = await client.exec(id, { mode: "query", runId: null, code: "spin" });
    assert.equal(first.status, "continued");
    const del = await client.destroy(id);
    assert.equal(del.status, 200, del.text);
    assertProblem(await client.info(id), 404, "object-not-found");
  });
});

describe("PATCH /session/:id (restart)", () => {
  let env: TestEnv;
  let client: Client;
  before(async () => {
    env = await makeEnv();
    client = env.client;
  });
  after(() => env.close());

  it("answers 204, resets kernel state and keeps files", async () => {
    const id = await client.newSession();
    const setup = await client.query(id, "set x 1; get x; write kept.txt still here");
    assert.equal(setup.stdout, "1\n");
    const res = await client.restart(id);
    assert.equal(res.status, 204, res.text);
    assert.equal(res.bytes.length, 0);
    const after = await client.query(id, "get x; cat kept.txt");
    assert.equal(after.final.status, "finished");
    assert.equal(after.stdout, "\nstill here");
    const info = await client.info(id);
    assert.equal(info.json.status, "RUNNING");
  });

  it("works by name", async () => {
    const name = uniqueName();
    await client.createSession({ lang: "script", clientSessionToken: name });
    assert.equal((await client.restart(name)).status, 204);
  });

  it("unknown session → 404 object-not-found", async () => {
    assertProblem(await client.restart(crypto.randomUUID()), 404, "object-not-found", { title: "No such session." });
  });
});

describe("POST /session/:id/interrupt", () => {
  let env: TestEnv;
  let client: Client;
  before(async () => {
    env = await makeEnv({ config: { flushIntervalMs: 100 } });
    client = env.client;
  });
  after(() => env.close());

  it("answers 204 when idle", async () => {
    const id = await client.newSession();
    const res = await client.interrupt(id);
    assert.equal(res.status, 204, res.text);
    const run = await client.query(id, "print after");
    assert.equal(run.stdout, "after\n");
  });

  it("ends a running spin with finished and a non-zero exitCode", async () => {
    const id = await client.newSession();
    const first = await client.exec(id, { mode: "query", runId: null, code: "print started; spin" });
    assert.equal(first.status, "continued");
    const res = await client.interrupt(id);
    assert.equal(res.status, 204, res.text);
    let result = first;
    for (let i = 0; i < 50 && result.status !== "finished"; i++) {
      assert.equal(result.status, "continued");
      result = await client.exec(id, { mode: "continue", runId: first.runId, code: "" });
    }
    assert.equal(result.status, "finished");
    assert.equal(typeof result.exitCode, "number");
    assert.notEqual(result.exitCode, 0);
    // The session keeps working.
    const next = await client.query(id, "print next");
    assert.equal(next.stdout, "next\n");
  });

  it("unknown session → 404 object-not-found", async () => {
    assertProblem(await client.interrupt(crypto.randomUUID()), 404, "object-not-found", { title: "No such session." });
  });
});

describe("GET /session/:id/logs", () => {
  let env: TestEnv;
  let client: Client;
  before(async () => {
    env = await makeEnv();
    client = env.client;
  });
  after(() => env.close());

  it("answers {result: {logs}} containing earlier output", async () => {
    const id = await client.newSession();
    await client.query(id, "print first-log-line; eprint second-log-line");
    const res = await client.logs(id);
    assert.equal(res.status, 200, res.text);
    assert.equal(typeof res.json.result?.logs, "string");
    assert.ok(res.json.result.logs.includes("first-log-line"), res.json.result.logs);
    assert.ok(res.json.result.logs.includes("second-log-line"), res.json.result.logs);
  });

  it("a fresh session has a string log", async () => {
    const id = await client.newSession();
    const res = await client.logs(id);
    assert.equal(res.status, 200, res.text);
    assert.equal(typeof res.json.result?.logs, "string");
  });

  it("unknown session → 404 object-not-found", async () => {
    assertProblem(await client.logs(crypto.randomUUID()), 404, "object-not-found", { title: "No such session." });
  });
});

describe("app.close()", () => {
  it("destroys every session's kernel", async () => {
    const env = await makeEnv();
    await env.client.newSession();
    await env.client.newSession();
    const id = await env.client.newSession();
    await env.client.exec(id, { mode: "query", runId: null, code: "spin" });
    await env.close();
    assert.equal(env.factory.created, 3);
    assert.equal(env.factory.destroyed, 3);
  });
});
