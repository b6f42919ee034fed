/**
 * Line endings (issue 17, item 8): a mail whose header ends lines with a bare CR (old Mac
 * clients, some web forms) or with CR CR LF (a doubled conversion) must be read with its real
 * header lines, not as one header holding everything, whose first address-like text (inside the
 * Message-ID) would become the sender. In memory and streamed from a file alike; the stored raw
 * mail is never changed (the parser works on a copy).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { parseMail } from '../../src/parse/parse';
import { LineEndingNormaliser, normaliseLineEndings } from '../../src/parse/charset-repair';

let dataDir: string;
beforeAll(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-eol-'));
});
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

const LINES = [
  'From: Anna Kund <anna.kund@example.com>',
  'To: klagomal@testfinans.se',
  'Subject: Felaktig avgift',
  'Date: Thu, 19 Nov 2026 09:14:02 +0100',
  'Message-ID: <x.4711@angripare.example>',
  'Content-Type: text/plain; charset=utf-8',
  '',
  'Hej,',
  'ni har tagit ut en avgift på 60 kr.',
  '',
  'Anna Kund',
  '',
];

describe('crOnlyLineEndingsKeepTheSender', () => {
  test.each([
    ['CR only', LINES.join('\r')],
    ['CR CR LF', LINES.join('\r\r\n')],
    ['CR in the header, CRLF in the body', LINES.slice(0, 7).join('\r') + '\r' + LINES.slice(7).join('\r\n')],
    ['CRLF and CR mixed line by line', LINES.map((l, i) => l + (i % 2 ? '\r' : '\r\n')).join('')],
  ])('%s, in memory', async (_name, raw) => {
    const bytes = Buffer.from(raw, 'utf8');
    const copy = Buffer.from(bytes);
    const m = await parseMail(bytes, { dataDir });
    expect(m.from).toEqual({ address: 'anna.kund@example.com', name: 'Anna Kund' });
    expect(m.subject).toBe('Felaktig avgift');
    expect(m.messageId).toBe('x.4711@angripare.example');
    expect(
      m.text
        .trim()
        .split('\n')
        .map((l) => l.trim()),
    ).toEqual(['Hej,', 'ni har tagit ut en avgift på 60 kr.', '', 'Anna Kund']);
    expect(m.problems).toContain('bare CR line endings read as CRLF');
    expect(bytes.equals(copy)).toBe(true); // the caller's bytes (the stored raw mail) untouched
  });

  test('CR only, streamed in chunks that split a CR CR pair and the blank line', async () => {
    const bytes = Buffer.from(LINES.join('\r'), 'utf8');
    const cut = bytes.indexOf('\r\rHej') + 1; // between the two CRs of the blank line
    const chunks = [bytes.subarray(0, 7), bytes.subarray(7, cut), bytes.subarray(cut)];
    const m = await parseMail(Readable.from(chunks), { dataDir });
    expect(m.from?.address).toBe('anna.kund@example.com');
    expect(m.subject).toBe('Felaktig avgift');
    expect(m.text).toContain('ni har tagit ut en avgift på 60 kr.');
    expect(m.problems).toContain('bare CR line endings read as CRLF');
  });

  test('CRLF and LF-only mail is passed through as it is', async () => {
    expect(normaliseLineEndings(Buffer.from(LINES.join('\r\n')))).toBeNull();
    expect(normaliseLineEndings(Buffer.from(LINES.join('\n')))).toBeNull();
    const m = await parseMail(Buffer.from(LINES.join('\n')), { dataDir });
    expect(m.from?.address).toBe('anna.kund@example.com');
    expect(m.problems).not.toContain('bare CR line endings read as CRLF');
  });

  test('the normaliser, across chunks: in a CR-terminated mail every CR is a line end; after a doubled conversion a CR run before LF is one', () => {
    const run = (n: LineEndingNormaliser): string =>
      Buffer.concat([n.push(Buffer.from('a\r')), n.push(Buffer.from('\rb\r\r')), n.push(Buffer.from('\nc\r')), n.end()]).toString();
    expect(run(new LineEndingNormaliser('each'))).toBe('a\r\n\r\nb\r\n\r\nc\r\n');
    expect(run(new LineEndingNormaliser('collapse'))).toBe('a\r\n\r\nb\r\nc\r\n');
  });
});
