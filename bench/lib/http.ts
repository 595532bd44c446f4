// A lean keep-alive HTTP client (node:http) for latency figures: fetch adds
// several hundred microseconds of its own per request, which is not Kiln's.

import http from "node:http";

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  json(): any;
}

export function request(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const url = new URL(path, base);
  const data = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
  const h: Record<string, string | number> = { ...headers };
  if (data) {
    h["content-length"] = data.length;
    if (!Buffer.isBuffer(body) && !h["content-type"]) h["content-type"] = "application/json";
  }
  return new Promise((resolve, reject) => {
    const req = http.request({ agent, host: url.hostname, port: url.port, method, path: url.pathname + url.search, headers: h }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const buf = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: buf, json: () => JSON.parse(buf.toString("utf8")) });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(data);
  });
}

/** Streams a GET's body, counting bytes without keeping them. */
export function drain(base: string, path: string): Promise<{ status: number; bytes: number }> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = http.request({ agent, host: url.hostname, port: url.port, method: "GET", path: url.pathname + url.search }, (res) => {
      let bytes = 0;
      res.on("data", (c: Buffer) => (bytes += c.length));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, bytes }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

export async function expectOk(answer: Promise<Answer>, what: string, status = 200): Promise<any> {
  const a = await answer;
  if (a.status !== status) throw new Error(`${what}: HTTP ${a.status} ${a.body.toString("utf8").slice(0, 300)}`);
  return a.body.length && String(a.headers["content-type"]).includes("json") ? a.json() : null;
}

export async function createSession(base: string, body: Record<string, unknown>): Promise<string> {
  const json = await expectOk(request(base, "POST", "/session", { clientSessionToken: `bench-${crypto.randomUUID().slice(0, 18)}`, ...body }), "create session", 201);
  return json.sessionId as string;
}

/** One run to its end: the first call, then `continue` until finished. Returns the final result and every stdout chunk. */
export async function runToEnd(base: string, id: string, first: Record<string, unknown>): Promise<{ status: string; exitCode: number | null; stdout: string; stderr: string; calls: number }> {
  let result = (await expectOk(request(base, "POST", `/session/${id}`, { runId: null, code: "", ...first }), "execute")).result;
  let stdout = "";
  let stderr = "";
  let calls = 1;
  for (;;) {
    for (const [kind, text] of result.console as [string, string][]) {
      if (kind === "stdout") stdout += text;
      else if (kind === "stderr") stderr += text;
    }
    if (result.status === "finished" || result.status === "exec-timeout") break;
    if (result.status === "waiting-input") throw new Error("run waits for input");
    result = (await expectOk(request(base, "POST", `/session/${id}`, { mode: "continue", runId: result.runId, code: "" }), "continue")).result;
    calls++;
  }
  return { status: result.status, exitCode: result.exitCode, stdout, stderr, calls };
}

export function multipart(files: { name: string; data: Buffer | string }[]): { body: Buffer; contentType: string } {
  const boundary = `----kilnbench${crypto.randomUUID().replace(/-/g, "")}`;
  const parts: Buffer[] = [];
  for (const f of files) {
    parts.push(Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="src"; filename="${f.name}"\r\ncontent-type: application/octet-stream\r\n\r\n`));
    parts.push(Buffer.isBuffer(f.data) ? f.data : Buffer.from(f.data));
    parts.push(Buffer.from("\r\n"));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` };
}
