// KilnClient and KilnSession against a real `kiln serve`: the session endpoints
// (version, list, create, info, restart, interrupt, logs, complete, destroy), each
// with the errors a user can reach mapped into KilnError. Imported as users do, "kiln/client".

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { API_VERSION, KilnClient } from "kiln/client";
import { API_VERSION as SERVER_API_VERSION } from "../../src/app.ts";
import { rejectsWith, stdoutOf } from "./assert.ts";
import { startKiln, type KilnServer } from "./kiln-server.ts";

let server: KilnServer;
let kiln: KilnClient;

before(async () => {
  server = await startKiln();
  kiln = new KilnClient({ url: server.url });
});
after(() => server.close());

describe("client: sessions", () => {
  it("reads the server's version, and signs with the version it announces", async () => {
    const version = await kiln.version();
    assert.equal(version.version, API_VERSION);
    assert.equal(API_VERSION, SERVER_API_VERSION);
    assert.equal(typeof version.manager, "string");
  });

  it("creates a session with name, environ, resources, limits and tag, and reads it back", async () => {
    const session = await kiln.createSession({
      lang: "javascript",
      name: "client-create",
      environ: { GREETING: "hi" },
      resources: { cpu: 1, mem: "64m" },
      limits: { stepTimeoutMs: 5000 },
      tag: "client-suite",
    });
    assert.equal(session.name, "client-create");
    assert.equal(session.created, true);
    const info = await session.info();
    assert.equal(info.sessionId, session.id);
    assert.equal(info.image, "javascript");
    assert.equal(info.status, "RUNNING");
    assert.deepEqual(info.environ, { GREETING: "hi" });
    assert.equal(info.resources.mem, "64m");
    assert.equal(info.limits.stepTimeoutMs, 5000);
    assert.equal(info.tag, "client-suite");

    const again = await kiln.createSession({ lang: "javascript", name: "client-create" });
    assert.equal(again.created, false);
    assert.equal(again.id, session.id);
    await rejectsWith(kiln.createSession({ lang: "javascript", name: "client-create", reuseIfExists: false }), 400, "session-already-exists");

    const byName = kiln.session("client-create");
    assert.equal((await byName.info()).sessionId, session.id);
    await session.destroy();
  });

  it("gives a session a random name when none is asked for", async () => {
    const session = await kiln.createSession({ lang: "js" });
    assert.match(session.name ?? "", /^kiln-[0-9a-f]{12}$/);
    await session.destroy();
  });

  it("lists live sessions oldest first, filtered by tag", async () => {
    const a = await kiln.createSession({ lang: "javascript", tag: "list-a" });
    const b = await kiln.createSession({ lang: "javascript", tag: "list-b" });
    const all = await kiln.sessions();
    const ids = all.map((s) => s.sessionId);
    assert.ok(ids.indexOf(a.id) >= 0 && ids.indexOf(a.id) < ids.indexOf(b.id), JSON.stringify(ids));
    const tagged = await kiln.sessions({ tag: "list-b" });
    assert.deepEqual(tagged.map((s) => [s.sessionId, s.sessionName, s.image, s.status]), [[b.id, b.name, "javascript", "RUNNING"]]);
    await a.destroy();
    assert.ok(!(await kiln.sessions()).some((s) => s.sessionId === a.id));
    await b.destroy();
  });

  it("restarts (state lost, files kept), interrupts, completes and reads the logs", async () => {
    const session = await kiln.createSession({ lang: "javascript" });
    await session.upload([{ path: "kept.txt", data: "kept" }]);
    await session.execute({ mode: "query", code: "globalThis.x = 41; console.log('logged')" });
    await session.restart();
    const output = await stdoutOf(session.run({ mode: "query", code: "console.log(typeof x, require('fs').readFileSync('kept.txt', 'utf8'))" }));
    assert.equal(output, "undefined kept\n");
    await session.interrupt(); // nothing runs: still 204
    assert.ok((await session.complete("consol")).includes("console"));
    assert.match(await session.logs(), /logged\n/);
    const stats = await session.destroy();
    assert.equal(typeof stats, "object");
  });

  it("maps an unknown session to a 404 KilnError on every per-session method", async () => {
    const ghost = kiln.session("no-such-session");
    const calls: [string, () => Promise<unknown>][] = [
      ["info", () => ghost.info()],
      ["destroy", () => ghost.destroy()],
      ["restart", () => ghost.restart()],
      ["interrupt", () => ghost.interrupt()],
      ["logs", () => ghost.logs()],
      ["complete", () => ghost.complete("x")],
      ["execute", () => ghost.execute({ mode: "query", code: "1" })],
      ["run", () => stdoutOf(ghost.run({ mode: "query", code: "1" }))],
      ["upload", () => ghost.upload([{ path: "a.txt", data: "a" }])],
      ["listFiles", () => ghost.listFiles()],
      ["download", () => ghost.download(["a"]).next()],
      ["downloadZip", () => ghost.downloadZip(["a"])],
      ["downloadSingle", () => ghost.downloadSingle("a")],
    ];
    for (const [name, call] of calls) {
      const error = await rejectsWith(call(), 404, "object-not-found");
      assert.equal(error.title, "No such session.", name);
      assert.match(error.message, /^404: No such session\./, name);
    }
  });

  it("maps bad parameters to 400, an unknown image to 404 and a limit past the server's to 412", async () => {
    const badName = await rejectsWith(kiln.createSession({ lang: "javascript", name: "x" }), 400, "invalid-api-params", /clientSessionToken/);
    assert.ok(Array.isArray((badName.data as { issues: unknown[] }).issues));
    await rejectsWith(kiln.createSession({ lang: "javascript", limits: { stepTimeoutMs: -1 } }), 400, "invalid-api-params", /stepTimeoutMs/);
    await rejectsWith(kiln.createSession({ lang: "cobol" }), 404, "object-not-found");
    await rejectsWith(kiln.createSession({ lang: "javascript", resources: { mem: "1t" } }), 412, "quota-exceeded");
    const session = await kiln.createSession({ lang: "javascript" });
    await rejectsWith(session.execute({ mode: "bogus" as "query" }), 400, "invalid-api-params", /mode/);
    await session.destroy();
  });
});
