/**
 * Text for a person at a terminal. Customer text (a subject, a display name, a file name, an
 * error quoting a header) can carry what a terminal acts on: ESC ] 52 (OSC 52) writes the
 * operator's clipboard, other escape sequences retitle, clear or redraw the screen, a CR
 * overwrites the line, and bidi overrides reorder what follows (an address, a number).
 *
 * Every line `klagomal` prints goes through `forTerminal` (src/cli.ts wraps the output): C0
 * controls other than tab, line feed and CRLF, DEL, C1 controls, bidi controls and the Unicode line
 * and paragraph separators are written as the six characters `\u001b`. So the operator sees
 * that something was there, and JSON stays the same JSON: these characters can only stand
 * inside a JSON string, where `\u001b` is the escape of that very character.
 *
 * Values that are one item (a subject in a table, a name after "Customer:") also go through
 * `terminalLine`: one line, bounded, so that a subject with an encoded CR/LF cannot print as
 * lines of its own (a forged "Outcome:" line under a case).
 */

// A CR is kept only as part of CRLF (the line ends of a CSV report on stdout); alone it returns
// to the start of the line and overwrites what was printed.
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]|\r(?!\n)/g;

/** The text with every character a terminal would act on written as `\uXXXX`; tabs, line feeds and CRLF kept. */
export function forTerminal(text: string): string {
  return text.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The longest one-item value printed in a text view (the full text: `--json`). */
export const TERMINAL_LINE_MAX = 200;

/** One value as one line: white space (line breaks too) collapsed, cut to `max` characters with an ellipsis, made safe. */
export function terminalLine(value: string | number | null | undefined, max = TERMINAL_LINE_MAX): string {
  if (value === null || value === undefined) return '';
  const line = String(value)
    .replace(/[\s\u0085]+/g, ' ')
    .trim();
  const chars = Array.from(line);
  return forTerminal(chars.length <= max ? line : chars.slice(0, max - 1).join('') + '…');
}
