// Figure 7's baseline, in a fresh process: RSS added by N bare isolated-vm isolates,
// each with one context. Prints {"before", "after", "n"} (bytes).
//   node --no-node-snapshot bench/lib/bare-isolates.ts N    (via tsx)

import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const ivm = require("isolated-vm") as typeof import("isolated-vm");
const n = Number(process.argv[2] ?? 1000);
const keep: unknown[] = [];
const warm = new ivm.Isolate({ memoryLimit: 128 });
await (await warm.createContext()).eval("1+1");
await new Promise((r) => setTimeout(r, 500));
const before = process.memoryUsage().rss;
for (let i = 0; i < n; i++) {
  const isolate = new ivm.Isolate({ memoryLimit: 128 });
  const context = await isolate.createContext();
  await context.eval("1+1");
  keep.push(isolate, context);
}
await new Promise((r) => setTimeout(r, 2000));
console.log(JSON.stringify({ before, after: process.memoryUsage().rss, n }));
