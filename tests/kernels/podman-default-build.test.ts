// build "*" for C and C++ gathers its sources with a bash glob (sandbox-images/base/sources.sh):
// every matching regular file below /home/work, in subdirectories too, as ./path, while
// hidden files and directories and symlinks are left out; none at all is a 127.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { exitCodes, newSession, podmanEnv, reset, unavailable, upload, type PodmanEnv } from "./podman-env.ts";

const skip = await unavailable(["c", "cpp"]);

describe("podman kernels: the default build's sources", { skip }, () => {
  let env: PodmanEnv;
  before(async () => {
    env = await podmanEnv();
  });
  after(() => env?.close());

  it("C: subdirectories in, hidden files and symlinks out, paths as ./path", async () => {
    const id = await newSession(env.client, "c");
    await upload(env, id, {
      "main.c": '#include <stdio.h>\nint twice(int);\nint main(void) { printf("%d\\n", twice(21)); return 0; }\n',
      // -Wall warns about the unused variable, naming the file as gcc was given it.
      "lib/twice.c": "int twice(int n) { int unused; return 2 * n; }\n",
      ".hidden/broken.c": "this is not C\n",
      ".broken.c": "this is not C either\n",
    });
    // A second main() through a symlink would break the link if it were compiled.
    const link = await env.client.batch(id, { exec: "ln -s main.c link.c" });
    assert.equal(link.final.exitCode, 0, link.stderr);
    const log = await env.client.batch(id, { build: "*", exec: "*" });
    assert.deepEqual(exitCodes(log), [0, 0, 0], log.stderr);
    assert.equal(log.stdout, "42\n");
    assert.match(log.stderr, /\.\/lib\/twice\.c:1:\d+: warning: unused variable/);
    assert.doesNotMatch(log.stderr, /broken|link\.c/);

    await reset(env.client, id);
    const none = await env.client.batch(id, { build: "*" });
    assert.equal(none.final.exitCode, 127);
    assert.match(none.stderr, /no C source file/);
    await env.client.destroy(id);
  });

  it("C++: .cpp, .cc and .cxx together", async () => {
    const id = await newSession(env.client, "cpp");
    await upload(env, id, {
      "main.cpp": "#include <iostream>\nint a(); int b();\nint main() { std::cout << a() + b() << std::endl; }\n",
      "src/a.cc": "int a() { return 40; }\n",
      "src/b.cxx": "int b() { return 2; }\n",
    });
    const log = await env.client.batch(id, { build: "*", exec: "*" });
    assert.deepEqual(exitCodes(log), [0, 0, 0], log.stderr);
    assert.equal(log.stdout, "42\n");
    await env.client.destroy(id);
  });
});
