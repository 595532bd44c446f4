// How a query's end reaches the host without a call that hands a result back:
// the script gets one more line (SCRIPT_END_LINE) that marks it reached its end,
// and afterScript, queued behind the script as a call nobody waits for, leaves the
// outcome in the shared buffer the bridge already has (SCRIPT_END_WORD), which the
// host reads once the script's call has returned. The line is a lexical
// declaration with no bindings: it cannot become the body of an `if`, a loop or a
// label left open at the script's end (a SyntaxError, after which the host runs
// the script alone), declares nothing, and reads nothing from the value it gets.

/** The runtime leaves the marking function here at init; SCRIPT_END_SETUP moves it into a binding. */
export const SCRIPT_END_SYMBOL = "kiln.scriptEnd";

const BINDING = "__kilnScriptEnd";

/**
 * Run in a REPL context before any program: a script-level const, so no global property
 * shows it, and no later script can declare the name again or assign it.
 */
export const SCRIPT_END_SETUP = `const ${BINDING} = globalThis[Symbol.for(${JSON.stringify(SCRIPT_END_SYMBOL)})]; delete globalThis[Symbol.for(${JSON.stringify(SCRIPT_END_SYMBOL)})];`;

export const SCRIPT_END_LINE = `\nlet {} = ${BINDING}();`;

/** Int32 words of the bridge's shared buffer: [0] is the bridge's flag, then afterScript's sequence number and outcome. */
export const SCRIPT_END_WORDS = 3;
export const SEQ_WORD = 1;
export const OUTCOME_WORD = 2;
/**
 * Outcomes besides an exit code (0–255): the script did not reach its end; the run goes on
 * (the host ticks); ending the run failed (the host calls rethrow).
 */
export const NOT_ENDED = -1;
export const GOES_ON = -2;
export const FAILED = -3;
