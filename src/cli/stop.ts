// Ctrl-C, SIGTERM, or the death of bin/kiln.js (its IPC channel closing): a client
// command that holds something on the server (kiln run's session) frees it first,
// then exits as the signal asks (128 + its number).

const CODES = { SIGINT: 130, SIGTERM: 143, disconnect: 143 } as const;
type Reason = keyof typeof CODES;

export function onStop(cleanUp: (reason: Reason) => Promise<void>): { dispose(): void } {
  let stopping = false;
  const handlers = (Object.keys(CODES) as Reason[]).map((reason) => {
    const handler = () => {
      // The terminal sends Ctrl-C to bin/kiln.js too, which passes it on: once is enough.
      if (stopping) return;
      stopping = true;
      void cleanUp(reason).finally(() => process.exit(CODES[reason]));
    };
    process.on(reason, handler);
    return [reason, handler] as const;
  });
  return {
    dispose() {
      for (const [reason, handler] of handlers) process.off(reason, handler);
    },
  };
}
