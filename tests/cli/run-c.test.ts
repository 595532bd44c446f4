// `kiln run --lang c main.c util.c` against a `kiln serve` with the podman kernels:
// the build's default ("*": every .c into ./main), input from --stdin, the program's
// exit code, --out with what the program wrote (not the binary the build made), and a
// compile error's exit code. Skipped without podman and the c image, unless
// KILN_REQUIRE_PODMAN=1.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { unavailable } from "../kernels/podman-env.ts";
import { cliEnv, kiln, type CliEnv } from "./kiln.ts";

const MAIN_C = `#include <stdio.h>
int add(int a, int b);
int main(void) {
  int a, b;
  printf("numbers? ");
  fflush(stdout);
  if (scanf("%d %d", &a, &b) != 2) return 2;
  printf("sum %d\\n", add(a, b));
  FILE *f = fopen("result.txt", "w");
  fprintf(f, "%d\\n", add(a, b));
  fclose(f);
  fprintf(stderr, "written\\n");
  return add(a, b);
}
`;

const skip = await unavailable(["c"]);

describe("kiln run --lang c", { skip }, () => {
  let ctx: CliEnv;
  let dir: string;
  let env: Record<string, string>;

  before(async () => {
    ctx = await cliEnv({
      "main.c": MAIN_C,
      "util.c": "int add(int a, int b) { return a + b; }\n",
      "broken.c": "int main(void) { return }\n",
      "input.txt": "3 4\n",
    });
    ({ dir, env } = ctx);
  });
  after(() => ctx?.close());

  it("builds, answers scanf from --stdin, exits with the program's code and downloads what it wrote", async () => {
    const out = join(dir, "out");
    const result = await kiln(["run", "--lang", "c", "main.c", "util.c", "--stdin", "input.txt", "--out", out], { env, cwd: dir });
    assert.equal(result.code, 7, result.stderr);
    assert.equal(result.stdout, "numbers? sum 7\n");
    assert.match(result.stderr, /written\n/);
    assert.deepEqual(await readdir(out), ["result.txt"]);
    assert.equal(await readFile(join(out, "result.txt"), "utf8"), "7\n");
  });

  it("exits with the compiler's exit code, its errors on stderr", async () => {
    const result = await kiln(["run", "--lang", "c", "broken.c"], { env, cwd: dir });
    assert.equal(result.code, 1, result.stderr);
    assert.equal(result.stdout, "");
    assert.match(result.stderr, /broken\.c.*error/);
    assert.match(result.stderr, /kiln: the build failed with exit code 1/);
  });
});
