// The languages the podman kernels serve: which image runs each, and what query mode
// means there. Batch "*" defaults live in the images (sandbox-images/<lang>/build,
// exec and the shared clean), so a session and `podman run` agree on them.

import type { BatchStep } from "../kernel.ts";

export type QueryMode =
  /** A long-lived interpreter keeps state between runs (the runner's REPL slot). */
  | { kind: "repl"; argv: readonly string[] }
  /** `code` becomes the main source file, then the default build and exec run. */
  | { kind: "main-file"; file: string }
  /** `code` is a bash script, run as a step. */
  | { kind: "shell" };

export interface Language {
  /** Canonical image name in the catalog, e.g. "c". */
  name: string;
  query: QueryMode;
}

export const LANGUAGES: readonly Language[] = [
  { name: "c", query: { kind: "main-file", file: "main.c" } },
  { name: "cpp", query: { kind: "main-file", file: "main.cpp" } },
  { name: "python", query: { kind: "repl", argv: ["python3", "/opt/kiln/repl.py"] } },
  { name: "go", query: { kind: "main-file", file: "main.go" } },
  { name: "rust", query: { kind: "main-file", file: "main.rs" } },
  { name: "java", query: { kind: "main-file", file: "Main.java" } },
  { name: "bash", query: { kind: "shell" } },
];

const BY_NAME = new Map(LANGUAGES.map((l) => [l.name, l]));

export function language(name: string): Language | undefined {
  return BY_NAME.get(name);
}

/** The local image of a language; only names from LANGUAGES ever reach podman. */
export function imageRef(name: string): string {
  if (!BY_NAME.has(name)) throw new Error(`not a podman language: ${JSON.stringify(name)}`);
  return `localhost/kiln-${name}:latest`;
}

/** The command a batch step's "*" stands for, inside every image: a plain word, so the runner execs it without bash. */
export function defaultCommand(step: BatchStep): string {
  return `/opt/kiln/${step}`;
}

/** A query for main-file languages: build with the defaults, then run. */
export const BUILD_AND_RUN = "/opt/kiln/build && exec /opt/kiln/exec";
