/**
 * The words of officers' command mail, pure: which commands exist, how a mail's command lines
 * are read (parseCommandMail), and the bilingual texts of a refusal (what was wrong, what is
 * allowed, "did you mean"). src/officers/commands.ts carries the commands out.
 */
import type { Language } from '../config/config';
import type { ExtensionRefused } from '../cases/extend';
import type { LegalHoldRefused } from '../retention/legal-hold';
import { editDistance } from '../util/edit-distance';

export const COMMAND_NAMES = [
  'assign',
  'status',
  'outcome',
  'extend',
  'holding',
  'category',
  'compensation',
  'note',
  'related',
  'assessment',
  'final',
  'ask',
  'reopen',
  'regime',
  'approve',
  'return',
] as const;
export type CommandName = (typeof COMMAND_NAMES)[number];

/**
 * Legal hold is a data-protection matter rather than case handling, so it has its own list; it
 * works on closed cases too (that is where retention would act).
 */
export const LEGAL_HOLD_COMMAND_NAMES = ['hold', 'release'] as const;
export type LegalHoldCommandName = (typeof LEGAL_HOLD_COMMAND_NAMES)[number];
/** The register of record's commands (src/officers/record-commands.ts keeps the same list). */
export const RECORD_COMMANDS = [
  'customer',
  'representative',
  'product',
  'inadmissible',
  'reasons',
  'arn',
  'court',
  'cause',
  'action',
  'paid',
  'first-contact',
  'sent-by-post',
] as const;
export const KNOWN_COMMANDS: readonly string[] = [...COMMAND_NAMES, ...RECORD_COMMANDS, ...LEGAL_HOLD_COMMAND_NAMES];

/**
 * The commands carried out on a case in doubt (a mail threaded on one case whose subject's tag
 * names another): they change neither the case's state nor its record nor reach a customer.
 */
export const IN_DOUBT_COMMANDS: readonly string[] = ['note'];

/**
 * Why a command is refused in a mail threaded on one case whose subject names another: which
 * case it was meant for is not certain, so it acts on neither; the officer is told how to send
 * it again.
 */
export function caseInDoubt(threaded: string, tagged: string, name: string): Said {
  return say(
    `this mail is a reply on ${threaded} (In-Reply-To/References) but its subject names ${tagged}: #${name} is not carried out on either case, since which one it was meant for is in doubt (only #note and the mail's note are recorded, on ${threaded}); send the commands again in a mail whose thread and subject name the same case: reply in that case's own thread, or write a new mail with only its tag ([${threaded}] or [${tagged}]) in the subject`,
    `det här mejlet är ett svar i ${threaded} (In-Reply-To/References) men ämnesraden anger ${tagged}: #${name} utförs inte i något av ärendena, eftersom det är oklart vilket det gällde (bara #note och mejlets anteckning sparas, i ${threaded}); skicka kommandona igen i ett mejl där tråden och ämnesraden anger samma ärende: svara i det ärendets egen tråd, eller skriv ett nytt mejl med bara dess tagg ([${threaded}] eller [${tagged}]) i ämnesraden`,
  );
}

export const ASSESSMENT_ITEMS = ['more-information', 'external-advice', 'other-complaints', 'changed-routines', 'training', 'staff-consequences'] as const;

/** The shortest final answer that counts as reasoned. */
export const FINAL_MIN_WORDS = 15;

export interface CommandLine {
  /** Line number in the mail's new text (1-based), for the officer's error report. */
  readonly lineNumber: number;
  readonly line: string;
  /** The word after '#', lower-cased (not necessarily a known command). */
  readonly name: string;
  readonly args: string;
}

export interface CommandMail {
  readonly commands: readonly CommandLine[];
  /** Everything after the command lines: a note, or the customer's text with #final / #ask. */
  readonly rest: string;
}

/** Pure: the command lines at the start of a mail's new text, and the rest. */
export function parseCommandMail(text: string): CommandMail {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  const commands: CommandLine[] = [];
  let i = 0;
  for (; i < lines.length; i++) {
    const t = lines[i].trim();
    if (t === '') continue;
    if (!t.startsWith('#')) break;
    const m = /^#\s*([^\s]*)\s*(.*)$/.exec(t)!;
    commands.push({ lineNumber: i + 1, line: t, name: m[1].toLowerCase(), args: m[2].trim() });
  }
  return { commands, rest: lines.slice(i).join('\n').trim() };
}

export const words = (s: string): number => s.split(/\s+/).filter((w) => /[\p{L}\p{N}]/u.test(w)).length;

/** A text for the officer in each language the templates are written in. */
export type Said = Readonly<Record<Language, string>>;

export function say(en: string, sv: string): Said {
  return { en, sv };
}

/** A refused command: what was wrong, in each language. */
export class CommandError extends Error {
  constructor(readonly said: Said) {
    super(said.en);
  }
}

/** The refusal of a command, from our own error or from the case operation that refused it. */
export function refusal(err: CommandError | ExtensionRefused | LegalHoldRefused): Said {
  if (err instanceof CommandError) return err.said;
  return { en: err.message, sv: err.sv };
}

export function allowed(list: readonly string[]): Said {
  return say(`allowed: ${list.join(', ')}`, `tillåtet: ${list.join(', ')}`);
}

/** What a command's value is, in English and in Swedish (with its gender: "okänd status", "okänt utfall"). */
export interface Noun {
  readonly en: string;
  readonly sv: string;
  readonly svNeuter?: boolean;
}

export function oneOf<T extends string>(value: string, list: readonly T[], what: Noun): T {
  const v = value.trim().toLowerCase();
  if ((list as readonly string[]).includes(v)) return v as T;
  const ok = allowed(list);
  if (!v) throw new CommandError(say(`${what.en} missing; ${ok.en}`, `${what.sv} saknas; ${ok.sv}`));
  const guess = didYouMean(v, list);
  const unknown = what.svNeuter ? 'okänt' : 'okänd';
  throw new CommandError(say(`unknown ${what.en} '${value}'${guess.en}; ${ok.en}`, `${unknown} ${what.sv} '${value}'${guess.sv}; ${ok.sv}`));
}

export function didYouMean(value: string, list: readonly string[], prefix = ''): Said {
  const best = list.map((x) => [x, editDistance(value, x)] as const).sort((a, b) => a[1] - b[1])[0];
  return best && best[1] <= Math.max(2, value.length / 3) ? say(` — did you mean '${prefix}${best[0]}'?`, ` — menade du '${prefix}${best[0]}'?`) : say('', '');
}

/** "1250", "1 250", "1 250,50 kr", "1.250:-" -> a number of SEK, or null. */
export function parseSek(text: string): number | null {
  const t = text
    .trim()
    .replace(/\s*(kr|kronor|sek|:-)\.?$/i, '')
    .replace(/^sek\s*/i, '');
  if (!/^\d{1,3}([ .\u00a0]?\d{3})*(,\d{1,2})?$|^\d+(\.\d{1,2})?$/.test(t)) return null;
  const n = /,\d{1,2}$/.test(t) ? Number(t.replace(/[ .\u00a0]/g, '').replace(',', '.')) : Number(t.replace(/[ \u00a0]/g, '').replace(/\.(?=\d{3}\b)/g, ''));
  return Number.isFinite(n) && n >= 0 ? n : null;
}
