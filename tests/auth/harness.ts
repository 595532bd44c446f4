// What the auth suites share: Backend.AI's npm SDK (loaded as its tests/api suite
// does, with the browser globals it expects), a keypair, and a server with
// authentication on over real HTTP.

import { createRequire } from "node:module";
import { createApp, type AppOptions, type KilnApp } from "../../src/app.ts";
import type { Keypair } from "../../src/auth/keys.ts";
import { scriptKernelFactory } from "../helpers/script-kernel.ts";
import { serveApp, type TestServer } from "../helpers/serve.ts";

export const KEY: Keypair = { accessKey: "AKIAKILNTESTKEY00001", secretKey: "kiln-test-secret-key-0123456789abcdefghij", token: "kiln-test-bearer-token-0001" };
export const OTHER: Keypair = { accessKey: "AKIAKILNTESTKEY00002", secretKey: "another-secret-key-0123456789abcdefghijk", token: "kiln-test-bearer-token-0002" };
export const API_VERSION = "v8.20240915";

export interface SdkClient {
  get_manager_version(): Promise<string>;
  createIfNotExists(image: string, name: string): Promise<{ sessionId: string; created: boolean }>;
  execute(id: string, runId: string | null, mode: string, code: string, opts: object): Promise<{ result: { runId: string; status: string; console: [string, unknown][] } }>;
  upload(id: string, path: string, blob: Blob): Promise<unknown>;
  download_single(id: string, file: string): Promise<Blob>;
  destroy(id: string): Promise<{ stats: object }>;
}

/** What the SDK throws for a non-2xx answer. */
export interface SdkError {
  statusCode: number;
  title: string;
}

const storage = new Map<string, string>();
const globals = globalThis as Record<string, unknown>;
globals.localStorage ??= { getItem: (k: string) => storage.get(k) ?? null, setItem: (k: string, v: string) => storage.set(k, v), removeItem: (k: string) => storage.delete(k) };
globals.navigator ??= { onLine: true };

const sdk = createRequire(import.meta.url)("backend.ai-client/backend.ai-client-node.js") as {
  Client: new (config: unknown, agent: string) => SdkClient;
  ClientConfig: new (accessKey: string, secretKey: string, endpoint: string) => unknown;
};

export function sdkClient(endpoint: string, key: { accessKey: string; secretKey?: string }): SdkClient {
  return new sdk.Client(new sdk.ClientConfig(key.accessKey, key.secretKey ?? "", endpoint), "kiln-auth-test");
}

export interface AuthServer {
  app: KilnApp;
  server: TestServer;
  url: string;
  close(): Promise<void>;
}

/** A real server on loopback with authentication on and KEY and OTHER configured, unless options say otherwise. */
export async function authServer(options: AppOptions = {}): Promise<AuthServer> {
  const app = createApp({
    kernels: [scriptKernelFactory()],
    keys: [KEY, OTHER],
    ...options,
    config: { auth: "on", flushIntervalMs: 100, ...options.config },
  });
  const server = await serveApp(app);
  return {
    app,
    server,
    url: server.url,
    async close() {
      await server.close();
      await app.close();
    },
  };
}

/** A request to `url` + `path` with a bearer token and, when given, a JSON body. */
export function bearer(url: string, token: string, method: string, path: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  return fetch(url + path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
}
