// Shared by figures 3–5: whether podman and the C image are here, and the session's container.

import { run } from "./proc.ts";
import { request } from "./http.ts";

export const HELLO_C = '#include <stdio.h>\nint main(void) { puts("hello, world"); return 0; }\n';

/** null when podman (rootful) and localhost/kiln-c are present, else why not. */
export async function podmanUnavailable(): Promise<string | null> {
  if (process.getuid?.() !== 0) return "the podman kernels need root";
  try {
    const r = await run("podman", ["image", "exists", "localhost/kiln-c"]);
    if (r.code !== 0) return "the image localhost/kiln-c is missing (npm run images -- c)";
  } catch (error) {
    return `podman is not installed (${(error as Error).message})`;
  }
  return null;
}

/** The name of the container whose /home/work holds the marker file `name` (uploaded by the caller). */
export async function containerWithFile(name: string): Promise<string> {
  const ps = await run("podman", ["ps", "--filter", "label=kiln.language", "--format", "{{.Names}}"]);
  for (const c of ps.stdout.split("\n").filter(Boolean)) {
    const t = await run("podman", ["exec", c, "test", "-e", `/home/work/${name}`]);
    if (t.code === 0) return c;
  }
  throw new Error(`no container has /home/work/${name}`);
}

export async function upload(base: string, id: string, files: { name: string; data: Buffer | string }[]): Promise<void> {
  const { multipart } = await import("./http.ts");
  const { body, contentType } = multipart(files);
  const a = await request(base, "POST", `/session/${id}/upload`, body, { "content-type": contentType });
  if (a.status !== 204) throw new Error(`upload: ${a.status} ${a.body.toString().slice(0, 300)}`);
}
