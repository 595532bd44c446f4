// How a query script reports the run's state in the same wake-up of the isolate's
// thread that runs it: the script gets a last line (SCRIPT_END_LINE) whose value —
// the script's value — is a promise, and the host's next call, queued behind the
// script and so after its promise jobs, settles it (afterScript in index.ts). The
// line starts with a lexical declaration with no bindings: it cannot become the
// body of an `if`, a loop or a label left open at the script's end (a SyntaxError,
// after which the host runs the script alone), and declares nothing.

/** The runtime leaves the function here at init; SCRIPT_END_SETUP moves it into a binding. */
export const SCRIPT_END_SYMBOL = "kiln.scriptEnd";

const BINDING = "__kilnScriptEnd";

/**
 * Run in a REPL context before any program: a script-level const, so no global property
 * shows it, and no later script can declare the name again or assign it.
 */
export const SCRIPT_END_SETUP = `const ${BINDING} = globalThis[Symbol.for(${JSON.stringify(SCRIPT_END_SYMBOL)})]; delete globalThis[Symbol.for(${JSON.stringify(SCRIPT_END_SYMBOL)})];`;

export const SCRIPT_END_LINE = `\nlet {} = 0; ${BINDING}()`;
