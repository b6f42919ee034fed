/**
 * A reply's new text and its quoted history, apart. The history is what the customer (or an
 * officer) quoted from earlier mails; a follow-up's substance is what comes before it.
 *
 * Markers, first match wins (the earliest line that starts a quoted block):
 *  - Outlook: a "Från:"/"From:"/"Von:" header line followed within three lines by
 *    "Skickat:"/"Sent:"/"Datum:"/"Date:"/"Gesendet:", with nothing but header lines up to the
 *    block's blank line (a web form's "Meddelande:" row ends that), often after underscores;
 *  - "-----Ursprungligt meddelande-----", "-----Original Message-----", "---------- Forwarded message
 *    ---------", "Begin forwarded message:", "Början på vidarebefordrat meddelande:";
 *  - attribution lines: "Den ... skrev ...:" (Gmail and Apple in Swedish, possibly wrapped over
 *    two lines), "On ... wrote:", "Am ... schrieb ...:", "Le ... a écrit :";
 *  - a run of lines starting with ">".
 * Pure; works on the decoded text.
 */

export interface SplitReply {
  readonly newText: string;
  readonly quoted: string;
}

const OUTLOOK_FROM = /^\s*\*?(från|from|von|de|fra|lähettäjä)\s*:\*?\s*\S/i;
const OUTLOOK_NEXT = /^\s*\*?(skickat|sent|datum|date|gesendet|envoyé|sendt|lähetetty|till|to|an)\s*:/i;
/** The lines a mail client writes in a quoted mail's header block. */
const HEADER_LINE =
  /^\s*\*?(skickat|sent|datum|date|gesendet|envoyé|sendt|lähetetty|till|to|an|à|til|vastaanottaja|kopia|cc|kopie|hemlig kopia|bcc|ämne|subject|betreff|objet|emne|aihe|prioritet|importance|priorität|bifogade filer|attachments|anlagen|svara till|reply-to)\s*:/i;
/** Any "Label:" line, as a web form writes one per field. */
const LABEL_LINE = /^\s*\*?\p{L}[\p{L} -]{0,30}:(\s|$)/u;
const SEPARATOR =
  /^\s*(-{2,}\s*(ursprungligt meddelande|original message|ursprüngliche nachricht|message d'origine|opprinnelig melding|oprindelig meddelelse|forwarded message|vidarebefordrat meddelande)\s*-{2,}|begin forwarded message:|början på vidarebefordrat meddelande:|_{10,})\s*$/i;
const ATTRIBUTION_END = /(skrev|wrote|schrieb|a écrit|kirjoitti|følgende|följande)\s*:?\s*$/i;
const ATTRIBUTION_START = /^\s*(den |on |am |le |tor |mån |tis |ons |fre |lör |sön )/i;
const ATTRIBUTION_VERB = /(skrev|wrote|schrieb|a écrit|kirjoitti)/i;

/** Whether the lines from `start` up to the next blank line (at most 8) are header lines or their continuations. */
function onlyHeaderLines(lines: readonly string[], start: number): boolean {
  for (const l of lines.slice(start, start + 8)) {
    if (l.trim() === '') return true;
    if (LABEL_LINE.test(l) && !HEADER_LINE.test(l)) return false;
  }
  return true;
}

export function splitReply(text: string): SplitReply {
  const lines = text.split(/\r?\n/);
  let cut = -1;
  for (let i = 0; i < lines.length && cut < 0; i++) {
    const line = lines[i];
    if (SEPARATOR.test(line)) cut = i;
    // A quoted mail's header block holds header lines only, up to its blank line: a web form's
    // rows "Från: ... / Datum: ... / Meddelande: ..." (an HTML table, one row a line) are no quote.
    else if (OUTLOOK_FROM.test(line) && lines.slice(i + 1, i + 4).some((l) => OUTLOOK_NEXT.test(l)) && onlyHeaderLines(lines, i + 1)) cut = i;
    else if (
      ATTRIBUTION_START.test(line) &&
      (ATTRIBUTION_END.test(line) || (i + 1 < lines.length && ATTRIBUTION_END.test(lines[i + 1]) && !lines[i + 1].startsWith('>')))
    )
      cut = i;
    // An attribution wrapped inside the address: "Den tors ... skrev Namn <" / "adress@x.se>:"
    else if (ATTRIBUTION_START.test(line) && ATTRIBUTION_VERB.test(line) && i + 1 < lines.length && /^\S*@\S*>?\s*:\s*$/.test(lines[i + 1].trim())) cut = i;
    // Any other attribution ending in "wrote:"/"skrev:" ("Monday, November 16, 2026, 10:00 AM, you wrote:") right before quoted lines.
    else if (ATTRIBUTION_END.test(line) && line.length < 200 && lines.slice(i + 1, i + 3).some((l) => l.startsWith('>'))) cut = i;
    else if (/^>/.test(line) && (i + 1 >= lines.length || /^>/.test(lines[i + 1]) || lines[i + 1].trim() === '')) cut = i;
  }
  if (cut < 0) return { newText: text.trim(), quoted: '' };
  return { newText: lines.slice(0, cut).join('\n').trim(), quoted: lines.slice(cut).join('\n').trim() };
}
