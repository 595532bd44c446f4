// Network from a program: TCP to Kiln's own port on 127.0.0.1, to another loopback
// port of the host, to a public address (TEST-NET-1, 192.0.2.1, never a real host) and
// DNS lookups all fail. Podman: --network=none; isolate: no socket module, no fetch.

import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { after, before, describe, it } from "node:test";
import { serveApp, type TestServer } from "../helpers/serve.ts";
import { kinds, type Env } from "./harness.ts";

for (const k of await kinds()) {
  describe(`${k.kind}: network from a program`, { skip: k.skip }, () => {
    let env: Env;
    let server: TestServer;
    let listener: Server;
    let kilnPort: number;
    let otherPort: number;
    let accepted = 0;
    before(async () => {
      env = await k.start();
      server = await serveApp(env.app);
      kilnPort = Number(new URL(server.url).port);
      listener = createServer((socket) => {
        accepted++;
        socket.destroy();
      });
      await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
      otherPort = (listener.address() as { port: number }).port;
    });
    after(async () => {
      listener?.close();
      await server?.close();
      await env?.close();
    });

    it("cannot reach Kiln, other loopback ports, a public address or a DNS server", async () => {
      const id = await env.session();
      if (env.kind === "podman") {
        const probe = (host: string, port: number) =>
          `timeout 3 bash -c 'exec 3<>/dev/tcp/${host}/${port}' 2>/dev/null && echo ${host}:${port}:open || echo ${host}:${port}:closed`;
        const log = await env.run(
          id,
          [
            probe("127.0.0.1", kilnPort),
            probe("127.0.0.1", otherPort),
            probe("192.0.2.1", 80),
            probe("10.0.2.2", kilnPort),
            probe("169.254.169.254", 80),
            "timeout 3 getent hosts example.com >/dev/null 2>&1 && echo dns:ok || echo dns:failed",
            "ls /sys/class/net | tr '\\n' ' '; echo",
          ].join("; "),
        );
        assert.equal(
          log.stdout,
          [`127.0.0.1:${kilnPort}:closed`, `127.0.0.1:${otherPort}:closed`, "192.0.2.1:80:closed", `10.0.2.2:${kilnPort}:closed`, "169.254.169.254:80:closed", "dns:failed", "lo "].join("\n") + "\n",
        );
      } else {
        const program = `
          const out = [];
          for (const m of ["net", "node:net", "http", "https", "dns", "dgram", "tls", "http2", "child_process", "worker_threads"]) {
            try { require(m); out.push(m + ":loaded"); } catch { out.push(m + ":refused"); }
          }
          for (const g of ["fetch", "XMLHttpRequest", "WebSocket", "EventSource", "Deno", "Bun"]) out.push(g + ":" + typeof globalThis[g]);
          try { await import("net"); out.push("import:loaded"); } catch { out.push("import:refused"); }
          try { process.binding("tcp_wrap"); out.push("binding:loaded"); } catch { out.push("binding:refused"); }
          console.log(out.join(" "));`;
        const log = await env.run(id, program);
        assert.doesNotMatch(log.stdout, /loaded|:function|:object/, log.stdout + log.stderr);
        assert.match(log.stdout, /net:refused.*fetch:undefined/);
      }
      assert.equal(accepted, 0, "the host listener saw no connection");
      // The server itself answers over the same loopback.
      assert.equal((await fetch(server.url)).status, 200);
      await env.healthy(id, "network probes");
    });
  });
}
