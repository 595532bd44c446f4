// SIGKILL of the `kiln` command itself (bin/kiln.js, the pid an operator or a supervisor
// sees) must not leave the server it started running on its own, holding the port, its
// containers and its sessions: the server notices and shuts down cleanly.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Client, uniqueName } from "../helpers/client.ts";
import { unavailable } from "../kernels/podman-env.ts";
import { alive, containersOf, serve, until, type Served } from "./crash-helpers.ts";
import { tempDir } from "./harness.ts";

const podmanSkip = await unavailable(["bash"]);

describe("crash: SIGKILL of the kiln wrapper", () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let server: Served | undefined;
  before(async () => (data = await tempDir("kiln-wrapper-")));
  after(async () => {
    if (server && alive(server.pid)) process.kill(server.pid, "SIGKILL");
    await data?.remove();
  });

  it("takes the server down with it, its sessions destroyed", async () => {
    server = await serve(data.path);
    const client = Client.forUrl(server.url);
    const langs = podmanSkip ? ["javascript"] : ["javascript", "bash"];
    for (const lang of langs) assert.equal((await client.createSession({ lang, clientSessionToken: uniqueName("wrap") })).status, 201);
    const instance = server.instanceId;
    server.wrapper.kill("SIGKILL");
    await server.exited;
    await until("the server process ends after its wrapper was killed", 15_000, () => !alive(server!.pid));
    await assert.rejects(fetch(server.url, { signal: AbortSignal.timeout(2000) }), "the port is closed");
    if (!podmanSkip) assert.deepEqual(await containersOf(instance), [], "the server removed its containers on the way out");
  });
});
