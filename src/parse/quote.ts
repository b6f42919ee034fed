/**
 * A reply's new text and its quoted history, apart. The history is what the customer (or an
 * officer) quoted from earlier mails; a follow-up's substance is what comes before it.
 *
 * Markers, first match wins (the earliest line that starts a quoted block):
 *  - Outlook: a "Från:"/"From:"/"Von:" header line followed within three lines by
 *    "Skickat:"/"Sent:"/"Datum:"/"Date:"/"Gesendet:", and within six by "Till:"/"To:" and
 *    "Ämne:"/"Subject:", often after a line of underscores;
 *  - "-----Ursprungligt meddelande-----", "-----Original Message-----", "Begin forwarded message";
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
const OUTLOOK_TO = /^\s*\*?(till|to|an|à|til|vastaanottaja)\s*:/i;
const OUTLOOK_SUBJECT = /^\s*\*?(ämne|subject|betreff|objet|emne|aihe)\s*:/i;
const SEPARATOR =
  /^\s*(-{2,}\s*(ursprungligt meddelande|original message|ursprüngliche nachricht|message d'origine|opprinnelig melding|oprindelig meddelelse)\s*-{2,}|begin forwarded message:|_{10,})\s*$/i;
const ATTRIBUTION_END = /(skrev|wrote|schrieb|a écrit|kirjoitti|følgende|följande)\s*:?\s*$/i;
const ATTRIBUTION_START = /^\s*(den |on |am |le |tor |mån |tis |ons |fre |lör |sön )/i;
const ATTRIBUTION_VERB = /(skrev|wrote|schrieb|a écrit|kirjoitti)/i;

export function splitReply(text: string): SplitReply {
  const lines = text.split(/\r?\n/);
  let cut = -1;
  for (let i = 0; i < lines.length && cut < 0; i++) {
    const line = lines[i];
    if (SEPARATOR.test(line)) cut = i;
    // The header block of a quoted mail names its recipient and subject too (Outlook, Gmail and
    // Apple all write them): a web form's rows "Från: ... / Datum: ... / Ämne: ..." (an HTML
    // table, one row a line) are no quote.
    else if (
      OUTLOOK_FROM.test(line) &&
      lines.slice(i + 1, i + 4).some((l) => OUTLOOK_NEXT.test(l)) &&
      lines.slice(i + 1, i + 7).some((l) => OUTLOOK_TO.test(l)) &&
      lines.slice(i + 1, i + 7).some((l) => OUTLOOK_SUBJECT.test(l))
    )
      cut = i;
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
