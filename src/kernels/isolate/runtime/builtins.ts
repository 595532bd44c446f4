// The built-in modules the runtime provides, shared with the host's resolver
// (which must not load the runtime itself to know them).

export const BUILTIN_NAMES = [
  "fs",
  "fs/promises",
  "path",
  "path/posix",
  "util",
  "util/types",
  "events",
  "buffer",
  "process",
  "console",
  "timers",
  "timers/promises",
  "readline",
  "readline/promises",
  "string_decoder",
  "module",
] as const;
