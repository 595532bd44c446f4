// KilnClient: the server-wide endpoints (version, the session list, creation) and
// handles to sessions. Runtime-neutral: fetch and Web Crypto only.

import { Http, type KilnClientOptions } from "./http.ts";
import { KilnSession } from "./session.ts";
import type { CreatedSession, CreateSessionOptions, ServerVersion, SessionSummary } from "./types.ts";

export class KilnClient {
  private readonly http: Http;

  constructor(options: KilnClientOptions = {}) {
    this.http = new Http(options);
  }

  /** GET /: the API version and Kiln's own. */
  version(): Promise<ServerVersion> {
    return this.http.json("GET", "/");
  }

  /** The live sessions, oldest first; `tag` keeps those created with it. */
  async sessions(filter: { tag?: string } = {}): Promise<SessionSummary[]> {
    return (await this.http.json<{ sessions: SessionSummary[] }>("GET", "/sessions", { query: { tag: filter.tag } })).sessions;
  }

  /** Creates a session (or reuses a live one of the same name and image, unless reuseIfExists is false). */
  async createSession(options: CreateSessionOptions): Promise<KilnSession> {
    const config: Record<string, unknown> = {};
    if (options.environ) config.environ = options.environ;
    if (options.resources) config.resources = options.resources;
    if (options.limits) config.limits = options.limits;
    const answer = await this.http.json<CreatedSession>("POST", "/session", {
      json: {
        lang: options.lang,
        clientSessionToken: options.name ?? randomName(),
        config,
        ...(options.reuseIfExists !== undefined ? { reuseIfExists: options.reuseIfExists } : {}),
        ...(options.tag !== undefined ? { tag: options.tag } : {}),
      },
    });
    return new KilnSession(this.http, answer.sessionId, answer.sessionName, answer.created);
  }

  /** A handle to an existing session by UUID or name; no request is made until one of its methods is called. */
  session(idOrName: string): KilnSession {
    return new KilnSession(this.http, idOrName);
  }
}

function randomName(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return "kiln-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
