/**
 * src/util/header-safe.ts: the gate between customer text and our outgoing headers. A CR or
 * LF that gets through is header injection (RFC 5322 §2.2: a header field body is one line);
 * a Message-ID with spaces echoed into References breaks threading for every later reply.
 */
import { headerText, messageIdList, normaliseAddress, normaliseMessageId } from '../../src/util/header-safe';

describe('headerText', () => {
  test.each<[string, string | null | undefined, string]>([
    ['CR LF', 'Evil\r\nBcc: victim@example.com', 'Evil Bcc: victim@example.com'],
    ['bare LF', 'a\nb', 'a b'],
    ['bare CR', 'a\rb', 'a b'],
    ['tab and NUL', 'a\t\u0000b', 'a b'],
    ['DEL and escape', 'a\u007f\u001b[31mb', 'a [31mb'],
    ['unicode line/paragraph separators', 'a\u2028b\u2029c', 'a b c'],
    ['folded whitespace', '  many    spaces \r\n\t here  ', 'many spaces here'],
    ['null', null, ''],
    ['undefined', undefined, ''],
    ['empty', '', ''],
    ['åäö kept', 'Klagomål på räntan', 'Klagomål på räntan'],
  ])('controlCharacterReachesHeader: %s', (_label, value, expected) => {
    expect(headerText(value)).toBe(expected);
  });

  test.each<[string, string]>([
    ['NEL (U+0085, a line break in Unicode)', 'a\u0085Bcc: x@y'],
    ['CSI (U+009B, a terminal escape in operator logs)', 'a\u009b31mb'],
  ])('c1ControlCharacterReachesHeader: %s', (_label, value) => {
    // The function promises "no control characters"; C0 and C1 are both Unicode category Cc.
    expect(headerText(value)).not.toMatch(/[\u0080-\u009f]/);
  });

  test('unboundedHeaderLength', () => {
    expect(headerText('x'.repeat(200))).toBe('x'.repeat(200));
    const cut = headerText('x'.repeat(201));
    expect(Array.from(cut)).toHaveLength(200);
    expect(cut.endsWith('…')).toBe(true);
    expect(Array.from(headerText('y'.repeat(5000), 100))).toHaveLength(100);
    expect(headerText('abc', 3)).toBe('abc');
  });

  test.each<[string, string]>([
    ['emoji (surrogate pairs)', '😀'],
    ['musical symbol', '𝄞'],
    ['å (BMP, one unit)', 'å'],
  ])('surrogatePairCutInHalf: %s', (_label, ch) => {
    for (const max of [5, 10, 11, 50]) {
      for (const prefix of ['', 'a']) {
        const out = headerText(prefix + ch.repeat(300), max);
        expect(Array.from(out).length).toBeLessThanOrEqual(max);
        // No lone surrogate anywhere: a lone surrogate is not valid UTF-8 once encoded.
        expect(out).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/);
        expect(Buffer.from(out, 'utf8').toString('utf8')).toBe(out);
        expect(out.endsWith('…')).toBe(true);
      }
    }
  });
});

describe('normaliseMessageId', () => {
  test.each<[string, string | null | undefined, string | null]>([
    ['with brackets', '<abc.123@mail.example.com>', 'abc.123@mail.example.com'],
    ['without brackets', 'abc.123@mail.example.com', 'abc.123@mail.example.com'],
    ['surrounding space', '  <abc@x.se>  ', 'abc@x.se'],
    ['space inside brackets trimmed', '< abc@x.se >', 'abc@x.se'],
    ['comment after', '<abc@x.se> (Outlook)', 'abc@x.se'],
    ['no @ tolerated', '<20261103123456.ABC>', '20261103123456.ABC'],
    ['exactly 250 characters', 'a'.repeat(245) + '@x.se', 'a'.repeat(245) + '@x.se'],
    ['space inside', '<abc def@x.se>', null],
    ['space without brackets', 'abc def@x.se', null],
    ['CR LF inside', '<abc\r\nBcc: x@y>', null],
    ['NUL inside', 'abc\u0000@x.se', null],
    ['tab inside', '<abc\t@x.se>', null],
    ['non-ASCII', '<åäö@x.se>', null],
    ['overlong', '<' + 'a'.repeat(251) + '@x.se>', null],
    ['empty brackets', '<>', null],
    ['stray bracket', 'abc@x.se>', null],
    ['empty', '', null],
    ['null', null, null],
    ['undefined', undefined, null],
  ])('unusableMessageIdAccepted: %s', (_label, value, expected) => {
    expect(normaliseMessageId(value)).toBe(expected);
  });
});

describe('messageIdList', () => {
  test.each<[string, string | string[] | null | undefined, string[]]>([
    ['one', '<a@x.se>', ['a@x.se']],
    ['folded References', '<a@x.se>\r\n <b@y.se>\r\n\t<c@z.se>', ['a@x.se', 'b@y.se', 'c@z.se']],
    ['no separators', '<a@x.se><b@y.se>', ['a@x.se', 'b@y.se']],
    ['commas (some clients)', '<a@x.se>, <b@y.se>', ['a@x.se', 'b@y.se']],
    ['duplicates dropped, order kept', '<a@x.se> <b@y.se> <a@x.se>', ['a@x.se', 'b@y.se']],
    ['several header lines', ['<a@x.se>', '<b@y.se> <c@z.se>'], ['a@x.se', 'b@y.se', 'c@z.se']],
    ['In-Reply-To with a comment', "<a@x.se> (Karin Kund's message of 3 Nov)", ['a@x.se']],
    ['bad id among good ones', '<a@x.se> <bad id@x.se> <c@z.se>', ['a@x.se', 'c@z.se']],
    ['bracketless fallback', 'a@x.se b@y.se', ['a@x.se', 'b@y.se']],
    ['bracketless garbage', 'hello world', []],
    ['empty', '', []],
    ['null', null, []],
  ])('threadingIdsMisread: %s', (_label, value, expected) => {
    expect(messageIdList(value)).toEqual(expected);
  });
});

describe('normaliseAddress', () => {
  test.each<[string, string | null | undefined, string | null]>([
    // The whole address is lower-cased (see the function's comment): one customer writing as
    // Anna.Svensson@ and anna.svensson@ must not become two customers.
    ['domain lower-cased', 'Karin.Kund@Example.COM', 'karin.kund@example.com'],
    ['local part lower-cased', 'KARIN@example.com', 'karin@example.com'],
    ['trimmed', '  karin@example.com  ', 'karin@example.com'],
    ['plus address', 'karin+klagomal@example.com', 'karin+klagomal@example.com'],
    ['unicode domain kept', 'karin@Exempel-Ö.se', 'karin@exempel-ö.se'],
    ['no @', 'karin', null],
    ['empty local part', '@example.com', null],
    ['empty domain', 'karin@', null],
    ['space inside', 'kar in@example.com', null],
    ['CR LF inside', 'karin@example.com\r\nBcc: x@y.se', null],
    ['angle brackets', '<karin@example.com>', null],
    ['display name', 'Karin <karin@example.com>', null],
    // Two addresses in one: nodemailer would read it as two recipients of our acknowledgement.
    ['comma list', 'a@x.se,b@y.se', null],
    ['two @ unquoted', 'a@b@example.com', null],
    ['semicolon in domain', 'a@x.se;b', null],
    ['NUL', 'karin\u0000@example.com', null],
    ['overlong', 'a'.repeat(250) + '@x.se', null],
    ['empty', '', null],
    ['null', null, null],
    // One quoted string as the local part is an address; `"klagomal"@firm.se"y"@example.com`
    // looked like one and was sent to klagomal@firm.se by the transport.
    ['one quoted string kept', '"karin..kund"@example.com', '"karin..kund"@example.com'],
    ['quoted local part smuggling another recipient', '"klagomal"@testfinans.se"y"@example.com', null],
    ['quote inside an unquoted local part', 'kar"in@example.com', null],
    // U+212A KELVIN SIGN lower-cases to an ASCII "k": another domain would pass for ours.
    ['Kelvin sign lower-cased into ASCII', 'olle@testban\u212A.se', null],
    ['Kelvin sign in the local part', 'ol\u212Ae@testbank.se', null],
    // A capital dotted I lower-cases to "i" and a combining dot: no ASCII look-alike, kept.
    ['Turkish capital dotted I kept', 'AYŞE.\u0130NCE@example.com.tr', 'ayşe.i\u0307nce@example.com.tr'],
  ])('garbageAddressAccepted: %s', (_label, value, expected) => {
    expect(normaliseAddress(value)).toBe(expected);
  });
});
