// TypeScript type-stripping with esbuild: it is already in the dependency tree
// (tsx runs on it), is actively maintained, covers all of TypeScript's syntax
// (enums, namespaces, decorators, parameter properties) and reports syntax
// errors with file, line and column. Only types are removed: module syntax and
// everything else stay as written, so ESM stays ESM and CJS stays CJS.

import { transform, type Message } from "esbuild";

export class TranspileError extends Error {
  override name = "TranspileError";
}

export function isTypeScript(path: string): boolean {
  return /\.(ts|mts|cts|tsx)$/.test(path) && !path.endsWith(".d.ts");
}

/** The .js path a build writes beside a .ts file. */
export function outputPath(path: string): string {
  return path.replace(/\.ts$/, ".js").replace(/\.mts$/, ".mjs").replace(/\.cts$/, ".cjs").replace(/\.tsx$/, ".js");
}

function describe(file: string, errors: Message[]): string {
  return errors
    .map((e) => {
      const loc = e.location;
      const where = loc ? `${file}(${loc.line},${loc.column + 1})` : file;
      const frame = loc ? `\n  ${loc.lineText}\n  ${" ".repeat(loc.column)}^` : "";
      return `${where}: error: ${e.text}${frame}`;
    })
    .join("\n");
}

export async function stripTypes(source: string, file: string): Promise<string> {
  try {
    const result = await transform(source, {
      loader: file.endsWith(".tsx") ? "tsx" : "ts",
      sourcefile: file,
      target: "esnext",
      format: undefined,
      tsconfigRaw: { compilerOptions: { verbatimModuleSyntax: false, preserveValueImports: false } },
      logLevel: "silent",
    });
    return result.code;
  } catch (error) {
    const errors = (error as { errors?: Message[] }).errors;
    if (Array.isArray(errors) && errors.length > 0) throw new TranspileError(describe(file, errors));
    throw new TranspileError(`${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
}
