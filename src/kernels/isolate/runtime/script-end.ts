// How the host learns, in the same wake-up of the isolate's thread, that a query
// script ran to its end: the script gets one more line that calls the runtime
// (SCRIPT_END_LINE), and the host's next call, queued behind the script, finds the
// flag set. A lexical declaration with no bindings cannot become the body of an
// `if`, a loop or a label left open at the script's end (a SyntaxError, after
// which the host runs the script alone), declares nothing, and reads nothing
// from the value it is given.

/** The runtime leaves the function here at init; SCRIPT_END_SETUP moves it into a binding. */
export const SCRIPT_END_SYMBOL = "kiln.scriptEnd";

const BINDING = "__kilnScriptEnd";

/**
 * Run in a REPL context before any program: a script-level const, so no global property
 * shows it, and no later script can declare the name again or assign it.
 */
export const SCRIPT_END_SETUP = `const ${BINDING} = globalThis[Symbol.for(${JSON.stringify(SCRIPT_END_SYMBOL)})]; delete globalThis[Symbol.for(${JSON.stringify(SCRIPT_END_SYMBOL)})];`;

export const SCRIPT_END_LINE = `\nlet {} = ${BINDING}();`;
