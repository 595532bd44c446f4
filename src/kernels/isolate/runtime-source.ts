// The in-isolate runtime (runtime/*.ts) bundled into one script with esbuild,
// once per process, on first use.

import { build } from "esbuild";
import { fileURLToPath } from "node:url";

/** The name runtime frames carry in stack traces, like Node's own internals. */
export const RUNTIME_FILENAME = "node:internal/kiln/runtime";

let source: Promise<string> | undefined;

export function runtimeSource(): Promise<string> {
  source ??= build({
    entryPoints: [fileURLToPath(new URL("./runtime/index.ts", import.meta.url))],
    bundle: true,
    write: false,
    format: "iife",
    platform: "neutral",
    target: "es2022",
    minifyWhitespace: true,
    // Function names show in console output ([Function: format]); bundling must not rename them.
    keepNames: true,
    legalComments: "none",
    // Strict code: a program's Error.prepareStackTrace gets no receivers or functions from runtime frames.
    banner: { js: '"use strict";' },
    logLevel: "silent",
  }).then((result) => {
    const file = result.outputFiles[0];
    if (!file) throw new Error("kiln: the isolate runtime did not bundle");
    return file.text;
  });
  return source;
}
