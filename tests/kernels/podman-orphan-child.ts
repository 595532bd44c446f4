// A server for podman-orphans.test.ts to kill: it creates a bash session, lets the
// warm pool fill, prints its instance id as JSON and waits for SIGKILL.
//   usage: podman-orphan-child.ts STATE_DIR DATA_DIR

import { createApp } from "../../src/app.ts";
import { loadPodmanKernels } from "../../src/kernels/podman/index.ts";
import { Client, uniqueName } from "../helpers/client.ts";

const [stateDir, dataDir] = process.argv.slice(2);
const load = await loadPodmanKernels({ stateDir: stateDir!, poolSize: 1 });
if (!load.factory) throw new Error(load.reason);
const app = createApp({ config: { dataDir: dataDir!, flushIntervalMs: 200 }, kernels: [load.factory] });
const client = Client.forApp(app);
const created = await client.createSession({ lang: "bash", clientSessionToken: uniqueName("orphan") });
if (created.status !== 201) throw new Error(created.text);
const ran = await client.batch(created.json.sessionId, { exec: "echo ready > ready.txt" });
if (ran.final.exitCode !== 0) throw new Error(ran.stderr);
await load.factory.pool.settled();
process.stdout.write(`${JSON.stringify({ instanceId: load.factory.status.instanceId, sessionId: created.json.sessionId })}\n`);
setInterval(() => undefined, 60_000);
