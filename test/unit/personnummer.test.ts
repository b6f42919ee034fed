/**
 * The personnummer recogniser and masker (src/util/personnummer.ts), by table: every way a
 * person or a mail client writes a number is found and masked, what only looks like one (an
 * account number, an amount, a wrong check digit, a future date) is left alone, and masking
 * replaces exactly the number, never a part of another.
 */
import { findPersonnummer, maskPersonnummer, maskPersonnummerIn } from '../../src/util/personnummer';
import { maskMail } from '../../src/parse/mask-mail';
import type { ParsedMail } from '../../src/parse/parse';
import { cli, command, complaint, Firm, makeFirm, rows } from '../support/personal-data';

const TODAY = new Date('2026-11-19T09:00:00Z');
const MASK = '19811218-****';
const mask = (s: string): string => maskPersonnummer(s, TODAY);

/** Full-width digits (U+FF10...). */
const fullWidth = (s: string): string => s.replace(/\d/g, (d) => String.fromCodePoint(0xff10 + Number(d)));
/** Another script's decimal digits: `zero` is the code point of its 0. */
const digitsOf = (s: string, zero: number): string => s.replace(/\d/g, (d) => String.fromCodePoint(zero + Number(d)));

describe('every written form is masked', () => {
  test.each([
    ['hyphen, 10 digits', '811218-9876'],
    ['hyphen, 12 digits', '19811218-9876'],
    ['no separator, 10 digits', '8112189876'],
    ['no separator, 12 digits', '198112189876'],
    ['space', '811218 9876'],
    ['space, 12 digits', '19811218 9876'],
    ['no-break space', '811218\u00a09876'],
    ['narrow no-break space', '811218\u202f9876'],
    ['space, hyphen, space', '811218 - 9876'],
    ['en dash', '811218\u20139876'],
    ['em dash', '19811218\u20149876'],
    ['minus sign U+2212', '811218\u22129876'],
    ['hyphen U+2010', '811218\u20109876'],
    ['non-breaking hyphen U+2011', '811218\u20119876'],
    ['full-width hyphen-minus', '811218\uff0d9876'],
    ['zero-width space as the separator', '811218\u200b9876'],
    ['zero-width space, 12 digits', '19811218\u200b9876'],
    ['word joiner inside', '8112\u206018-9876'],
    ['soft hyphen inside', '19811\u00ad218-9876'],
    ['zero-width joiner and BOM inside', '8\u200d1121\ufeff8-9876'],
    ['bidi marks inside', '811\u200e218\u200f-9876'],
    ['variation selector inside', '81121\ufe0f8-9876'],
    ['full-width digits', fullWidth('811218-9876')],
    ['full-width digits and hyphen, 12', fullWidth('19811218') + '\uff0d' + fullWidth('9876')],
    ['Arabic-Indic digits', digitsOf('811218-9876', 0x660)],
    ['Devanagari digits', digitsOf('19811218-9876', 0x966)],
    ['mathematical bold digits', digitsOf('811218-9876', 0x1d7ce)],
    ['superscript digits (NFKC)', '\u2078\u00b9\u00b9\u00b2\u00b9\u2078-\u2079\u2078\u2077\u2076'],
  ])('%s: %j', (_name, written) => {
    const text = `Hej, mitt personnummer är ${written}, tack.`;
    expect(mask(text)).toBe(`Hej, mitt personnummer är ${MASK}, tack.`);
    const [p] = findPersonnummer(text, TODAY);
    expect(p).toMatchObject({ written, normalised: '198112189876', masked: MASK });
    expect(text.slice(p.index, p.end)).toBe(written);
  });

  test('personnummerWithZeroWidthSeparatorIsMasked', () => {
    expect(mask('Anna 811218\u200b9876')).toBe(`Anna ${MASK}`);
    expect(mask('Anna 1981\u200b1218\u200b-\u200b9876')).toBe(`Anna ${MASK}`);
  });

  test('fullWidthPersonnummerIsMasked', () => {
    expect(mask(`Personnummer: ${fullWidth('19811218-9876')}`)).toBe(`Personnummer: ${MASK}`);
    expect(mask(fullWidth('8112189876'))).toBe(MASK);
  });

  test('twelveDigitPersonnummerKeepsItsCentury', () => {
    expect(mask('198112189876')).toBe(MASK);
    // The ten-digit form of the same number written earlier in the text must not be found again
    // inside the twelve-digit one (it was: "1919811218-****").
    expect(mask('8112189876 eller 198112189876')).toBe(`${MASK} eller ${MASK}`);
    expect(mask('Personnummer: 811218-9876\nPersonnummer: 198112189876\n19811218-9876')).toBe(`Personnummer: ${MASK}\nPersonnummer: ${MASK}\n${MASK}`);
    expect(mask('200504121237')).toBe('20050412-****');
  });

  test('the century of a ten-digit form: this century unless that would be in the future; + means a hundred years more', () => {
    expect(mask('050412-1237')).toBe('20050412-****');
    expect(mask('811218-9876')).toBe(MASK);
    expect(mask('191212-1215')).toBe('20191212-****');
    expect(mask('191212+1215')).toBe('19191212-****');
  });

  test('samordningsnummer (day + 60)', () => {
    expect(findPersonnummer('811278-9873', TODAY)).toMatchObject([{ normalised: '198112789873', masked: '19811278-****', samordningsnummer: true }]);
    expect(mask(`s-nr ${fullWidth('8112789873')}`)).toBe('s-nr 19811278-****');
  });

  // Found by a review: a date written in parts, and a number wrapped at a line's end, stayed in clear.
  test.each([
    ['the date in parts, four-digit year', 'Personnummer 1981-12-18-9876'],
    ['the date in parts, two-digit year', 'pnr 81-12-18-9876.'],
    ['the date in parts, a space before the last four', 'född 1981-12-18 9876'],
    ['wrapped after the dash', 'Personnummer: 811218 -\n9876'],
    ['wrapped between date and last four (CRLF)', 'Personnummer:\r\n811218\r\n9876'],
  ])('personnummerWrittenInPartsOrWrappedIsMasked: %s', (_what, text) => {
    expect(mask(text)).toContain(MASK);
    expect(mask(text)).not.toMatch(/9876/);
  });

  test('several numbers, each masked in its place', () => {
    expect(mask('Jag 811218-9876 och min man 850412 1230.')).toBe(`Jag ${MASK} och min man 19850412-****.`);
  });
});

describe('what only looks like a personnummer stays', () => {
  test.each([
    ['a wrong check digit', '811218-9875'],
    ['inside a longer run of digits (an OCR number)', '12345678112189876'],
    ['more digits after', '811218-98761'],
    ['the tail of an account number', '1234-811218-9876'],
    ['a date in the future', '20301218-9876'],
    ['not a date', '811318-9876'],
    ['an amount', '1 250 kr'],
    ['a phone number', '070-123 45 67'],
    ['a date', '2026-11-03'],
    ['a twelve-digit run not starting 19 or 20', '178112189876'],
    ['the mask itself', MASK],
  ])('%s: %j', (_name, text) => {
    expect(mask(text)).toBe(text);
  });

  test('linear in the text: a megabyte of digits and separators', () => {
    const text = '1234567890 - '.repeat(80_000);
    expect(mask(text)).toBe(text);
  });
});

describe('masking structures', () => {
  test('every string in a JSON-like value, deep', () => {
    const v = { name: 'Anna 811218-9876', refs: [{ type: 'customer', value: '811218 9876' }], n: 3, ok: true, none: null, list: ['198112189876'] };
    expect(maskPersonnummerIn(v, TODAY)).toEqual({
      name: `Anna ${MASK}`,
      refs: [{ type: 'customer', value: MASK }],
      n: 3,
      ok: true,
      none: null,
      list: [MASK],
    });
  });

  test('personnummerInAdjacentTableCellIsMasked: an HTML-only mail whose table cells ran together', async () => {
    const { parseMail } = await import('../../src/parse/parse');
    const os = await import('node:os');
    const fs = await import('node:fs');
    const path = await import('node:path');
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-pnr-table-'));
    try {
      const html = '<table><tr><td>1</td><td>Anna Svensson</td><td>0701234567</td><td>811218-9876</td></tr><tr><td>Belopp</td><td>60 kr</td></tr></table>';
      const raw = [
        'From: Anna <anna@example.com>',
        'To: klagomal@testfinans.se',
        'Subject: Klagomål',
        'Content-Type: text/html; charset=utf-8',
        '',
        html,
        '',
      ].join('\r\n');
      const masked = maskMail(await parseMail(Buffer.from(raw), { dataDir }), TODAY);
      expect(masked.text).not.toMatch(/9876/);
      expect(masked.text).toContain(MASK);
      expect(masked.text).toContain('Anna Svensson 0701234567');
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('a parsed mail: names, subject, text, attachment names, the forwarded original, problems', () => {
    const mail = {
      messageId: 'x@example.com',
      subject: 'Avgift 811218-9876',
      text: 'pnr 19811218 9876',
      from: { address: 'anna@example.com', name: 'Anna 19811218-9876' },
      fromName: 'Anna 19811218-9876',
      replyTo: { address: 'anna@example.com', name: '8112189876' },
      to: [{ address: 'klagomal@firm.se', name: 'Klagomål 811218-9876' }],
      cc: [],
      attachments: [{ filename: 'kontoutdrag 198112189876.pdf', contentType: 'application/pdf', size: 1, sha256: 'a', path: 'p' }],
      forwarded: {
        via: 'inline',
        from: { address: 'anna@example.com', name: 'Anna 811218-9876' },
        date: null,
        dateText: null,
        subject: 'Fwd 811218-9876',
        messageId: null,
        text: 'x 811218-9876',
      },
      problems: ['a problem quoting 811218-9876'],
    } as unknown as ParsedMail;
    const m = maskMail(mail, TODAY);
    expect(JSON.stringify(m)).not.toMatch(/9876/);
    expect(m.from).toEqual({ address: 'anna@example.com', name: `Anna ${MASK}` });
    expect(m.attachments[0].filename).toBe(`kontoutdrag ${MASK}.pdf`);
    expect(m.messageId).toBe('x@example.com');
    // The clear mail is untouched: the number is read from it to be sealed.
    expect(mail.subject).toBe('Avgift 811218-9876');
  });
});

describe('texts that are not the mail: notes, reasons, form fields', () => {
  const RECEIVED = new Date('2026-03-02T09:00:00+01:00');
  const AT = new Date('2026-03-05T10:00:00+01:00');
  let f: Firm;
  beforeEach(() => {
    f = makeFirm();
  });
  afterEach(() => f.close());

  /** Tables and columns (other than raw_mail, the evidence) whose text holds Karin's number in any form. */
  function columnsWithTheNumber(): string[] {
    const out: string[] = [];
    const tables = rows(f, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'raw_mail'") as Array<{
      name: string;
    }>;
    for (const { name } of tables) {
      for (const row of rows(f, `SELECT * FROM "${name}"`)) {
        for (const [column, value] of Object.entries(row)) {
          if (typeof value !== 'string') continue;
          if (findPersonnummer(value, TODAY).some((p) => p.normalised === '198112189876') || value.includes('8112189876')) out.push(`${name}.${column}`);
        }
      }
    }
    return [...new Set(out)].sort();
  }

  test('personnummerInNotesAndReasonsIsMasked: officers’ commands, the CLI, and a customer number in the form', async () => {
    const c = await complaint(
      f,
      {
        from: `Karin Kund <karin@example.com>`,
        body: 'Hej, ni tog ut en avgift på 250 kr den 3 februari 2026 som jag vill ha tillbaka.\nKundnummer: 811218-9876\n\nKarin Kund',
      },
      RECEIVED,
    );
    // The customer number was a personnummer: the reference is kept masked.
    expect(JSON.parse(c.fields).references).toEqual([{ type: 'customer', value: MASK }]);

    const cmds = [
      '#note Kunden ringde, pnr 811218 9876, och bekräftade',
      '#hold ARN-anmälan från 811218\u20139876',
      '#extend 2026-03-25 Vi väntar på underlag om 811218\u22129876 från banken',
    ];
    for (const text of cmds) expect(command(f, c.id, text, AT).out.errors).toEqual([]);
    // Rest of the mail as a note, the number written with a zero-width space.
    expect(command(f, c.id, '#status in-progress\nKarin har personnummer 811218\u200b9876.', AT).out.errors).toEqual([]);
    // The operator's commands.
    for (const args of [
      ['case', 'met', c.number, 'acknowledgement', '--note', 'Brev skickat till 8112189876'],
      ['case', 'hold', c.number, '--reason', 'Domstol, mål om 19811218 9876'],
      ['case', 'extend', c.number, '--to', new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10), '--reason', 'Underlag för 811218-9876 saknas'],
    ]) {
      const r = await cli(f, args);
      expect({ args, code: r.code, err: r.err }).toEqual({ args, code: 0, err: '' });
    }

    expect(columnsWithTheNumber()).toEqual([]);
    // And the delay notices the customer got say why, masked.
    const notices = rows(f, "SELECT body_text FROM outbox WHERE kind = 'delay-notice'") as Array<{ body_text: string }>;
    expect(notices).toHaveLength(2);
    for (const n of notices) expect(n.body_text).toContain(MASK);
  });
});
