// Kiln's typed client ("kiln/client"): runtime-neutral (Node, Bun, Deno, browsers).
// Node-only helpers (upload from paths, extract a tar) are in "kiln/client/node".
//
//   const kiln = new KilnClient({ url: "http://127.0.0.1:8090" });
//   const session = await kiln.createSession({ lang: "javascript" });
//   await session.upload([{ path: "main.js", data: 'console.log(prompt("name?"))' }]);
//   for await (const event of session.run({ mode: "batch", exec: "*" }, { input: () => "Kiln" })) …
//   await session.destroy();

export { KilnClient } from "./client.ts";
export { KilnSession, type TransferOptions } from "./session.ts";
export { KilnError, type ClientProblem } from "./errors.ts";
export { API_VERSION, DEFAULT_URL, type Fetch, type KilnClientOptions } from "./http.ts";
export { collectRun, type InputRequest, type RunEvent, type RunJob, type RunOptions, type RunOutput, type Step, type StepOutput } from "./run.ts";
export { Download, type UploadData, type UploadFile } from "./transfer.ts";
export type * from "./types.ts";
