/**
 * Text for a terminal (src/util/terminal.ts) and whole numbers from the command line
 * (src/cli/args.ts), by table.
 */
import { forTerminal, terminalLine } from '../../src/util/terminal';
import { instantArg, UsageError, wholeNumber } from '../../src/cli/args';
import { table } from '../../src/cli/table';

describe('forTerminal', () => {
  test.each([
    ['OSC 52 (the clipboard)', '\x1b]52;c;Y3VybCBldmls\x07', '\\u001b]52;c;Y3VybCBldmls\\u0007'],
    ['a window title, terminated by ST', '\x1b]0;pwned\x1b\\', '\\u001b]0;pwned\\u001b\\'],
    ['clear screen', '\x1b[2J\x1bc', '\\u001b[2J\\u001bc'],
    ['8-bit CSI (C1)', '\u009b31m', '\\u009b31m'],
    ['DEL and NUL', 'a\x7fb\x00', 'a\\u007fb\\u0000'],
    ['a lone CR overwrites the line', 'ok\rFORGED', 'ok\\u000dFORGED'],
    ['bidi override', 'moc.live\u202e@anna', 'moc.live\\u202e@anna'],
    ['bidi isolate', '\u2066x\u2069', '\\u2066x\\u2069'],
    ['line separator', 'a\u2028b', 'a\\u2028b'],
    ['tabs, line feeds and CRLF stay', 'a\tb\nc\r\nd', 'a\tb\nc\r\nd'],
    ['text as it is', 'Klagomål på avgift – 250 kr', 'Klagomål på avgift – 250 kr'],
  ])('%s', (_name, input, expected) => {
    expect(forTerminal(input)).toBe(expected);
  });

  test('JSON stays the same JSON', () => {
    const value = { subject: `x\x1b]52;c;eA==\x07\u009b\u202e\u2028\r\n\ty`, list: ['\x00', 'å'] };
    const out = forTerminal(JSON.stringify(value, null, 2));
    // eslint-disable-next-line no-control-regex
    expect(out).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2028]/);
    expect(JSON.parse(out)).toEqual(value);
  });

  test('terminalLine: one line, bounded, safe', () => {
    expect(terminalLine('Avgift\r\nBcc: evil@x.se')).toBe('Avgift Bcc: evil@x.se');
    expect(terminalLine(null)).toBe('');
    expect(terminalLine(42)).toBe('42');
    expect(Array.from(terminalLine('å'.repeat(500)))).toHaveLength(200);
    expect(terminalLine('å'.repeat(500)).endsWith('å…')).toBe(true);
    expect(terminalLine('a\x1b[2Jb')).toBe('a\\u001b[2Jb');
  });

  test('a table cell is one safe line', () => {
    const t = table(['ID', 'SUBJECT'], [[1, 'Avgift\nForged: row\x1b]0;x\x07']]);
    expect(t.split('\n')).toHaveLength(3);
    expect(t).toContain('Avgift Forged: row\\u001b]0;x\\u0007');
  });
});

describe('wholeNumber', () => {
  test.each(['1', '42', '1000000'])('%j is taken', (v) => {
    expect(wholeNumber('--limit', v, 1, 1_000_000)).toBe(Number(v));
  });

  test.each(['0', '1000001', '99999999999999999999', '9007199254740993', '1e3', '0x10', '1.5', ' 5', '5 ', '', '-1', '+1', '١٢'])(
    '%j is a usage error',
    (v) => {
      expect(() => wholeNumber('--limit', v, 1, 1_000_000)).toThrow(UsageError);
      expect(() => wholeNumber('--limit', v, 1, 1_000_000)).toThrow(/^--limit: a whole number from 1 to 1000000 \(got /);
    },
  );

  test('a missing value and a flag are usage errors too', () => {
    expect(() => wholeNumber('ID', undefined, 1)).toThrow(UsageError);
    expect(() => wholeNumber('ID', true, 1)).toThrow(UsageError);
    expect(wholeNumber('ID', '9007199254740991', 1)).toBe(Number.MAX_SAFE_INTEGER);
  });
});

describe('instantArg', () => {
  test('nonexistentDateIsAUsageError (found by a review: 2026-11-31 ran as 2026-12-01)', () => {
    expect(() => instantArg('--now', '2026-11-31T00:00:00Z')).toThrow(UsageError);
    expect(() => instantArg('--now', '2026-02-29T10:00:00+01:00')).toThrow(UsageError);
    expect(() => instantArg('--now', '2026-13-01T10:00:00+01:00')).toThrow(UsageError);
    expect(instantArg('--now', '2028-02-29T10:00:00+01:00').toISOString()).toBe('2028-02-29T09:00:00.000Z');
    expect(instantArg('--now', '2026-11-30T23:00:00Z').toISOString()).toBe('2026-11-30T23:00:00.000Z');
  });
});
