// `npm run images [-- LANG...] [--force] [--debootstrap]`: builds the podman kernels'
// images that are missing or out of date (see images.ts), and prints what it did.

import { detectHost } from "./driver.ts";
import { buildImages } from "./images.ts";

const args = process.argv.slice(2);
const languages = args.filter((a) => !a.startsWith("--"));
const unknownFlag = args.find((a) => a.startsWith("--") && a !== "--force" && a !== "--debootstrap" && a !== "--verbose");
if (unknownFlag) {
  console.error(`usage: npm run images -- [LANG...] [--force] [--debootstrap] [--verbose]  (unknown ${unknownFlag})`);
  process.exit(2);
}
const verbose = args.includes("--verbose");

try {
  const started = Date.now();
  const host = await detectHost();
  for (const note of host.notes) console.log(note);
  const reports = await buildImages({
    host,
    languages,
    force: args.includes("--force"),
    ...(args.includes("--debootstrap") ? { rootfsSource: "debootstrap" as const } : {}),
    log: (line) => {
      if (verbose || !line.startsWith("  ")) console.log(line);
    },
  });
  console.log("\nimage                               built   seconds   size");
  for (const r of reports) console.log(`${r.image.padEnd(36)}${(r.built ? "yes" : "no").padEnd(8)}${r.seconds.toFixed(1).padStart(7)}   ${r.sizeMB.toFixed(0)} MB`);
  console.log(`total ${((Date.now() - started) / 1000).toFixed(1)} s`);
} catch (error) {
  console.error(`images: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
