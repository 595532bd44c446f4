// Image references → canonical image names → the kernel factory serving them.
// Clients written for Backend.AI send registry references such as
// "cr.backend.ai/stable/python:3.11-ubuntu22.04" or "lablup/kernel-c:gcc"; Kiln has
// one image per language, so the registry, namespace and tag are dropped.

import type { KernelFactory } from "./kernel.ts";

/** Every language Kiln knows, with the names clients use for it. */
export const LANGUAGES: Readonly<Record<string, readonly string[]>> = {
  javascript: ["js", "nodejs", "node", "javascript"],
  typescript: ["ts", "typescript"],
  c: ["c", "gcc"],
  cpp: ["cpp", "c++", "g++", "cxx"],
  python: ["python", "python3", "py"],
  go: ["go", "golang"],
  rust: ["rust", "rs", "rustc"],
  java: ["java", "openjdk", "jdk"],
  bash: ["bash", "sh", "shell"],
};

const ALIASES = new Map<string, string>(
  Object.entries(LANGUAGES).flatMap(([image, names]) => names.map((n) => [n, image] as const)),
);

/** What an image reference may look like: registry/namespace/name:tag@digest, nothing a shell would read. */
export const IMAGE_REF = /^[A-Za-z0-9][A-Za-z0-9._/:@+-]{0,254}$/;

/** The bare name of a reference: "cr.backend.ai/stable/python:3.11-ubuntu22.04" → "python". */
function bareName(ref: string): string {
  const noDigest = ref.split("@")[0] ?? "";
  const last = noDigest.slice(noDigest.lastIndexOf("/") + 1);
  const name = (last.split(":")[0] ?? "").toLowerCase();
  return name.startsWith("kernel-") ? name.slice("kernel-".length) : name;
}

export type Resolution =
  | { kind: "ok"; image: string; factory: KernelFactory }
  | { kind: "unknown" }
  | { kind: "unavailable"; image: string };

export class Catalog {
  private readonly byImage = new Map<string, KernelFactory>();

  constructor(factories: readonly KernelFactory[]) {
    for (const factory of factories) {
      for (const image of factory.images) if (!this.byImage.has(image)) this.byImage.set(image, factory);
    }
  }

  resolve(ref: string): Resolution {
    const name = bareName(ref);
    const image = ALIASES.get(name) ?? (this.byImage.has(name) ? name : undefined);
    if (image === undefined) return { kind: "unknown" };
    const factory = this.byImage.get(image);
    return factory ? { kind: "ok", image, factory } : { kind: "unavailable", image };
  }

  /** Served images and the factory of each, for /healthz and logs. */
  available(): Record<string, string> {
    return Object.fromEntries([...this.byImage].map(([image, f]) => [image, f.name]));
  }

  factories(): KernelFactory[] {
    return [...new Set(this.byImage.values())];
  }
}
