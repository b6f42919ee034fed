/**
 * Swedish 8-bit mail from old clients (src/parse/charset-repair.ts through parseMail): åäö must
 * come out right wherever the bytes allow it, and mail that declares its charset correctly must
 * not be touched.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseMail } from '../../src/parse/parse';
import { repairCharsets } from '../../src/parse/charset-repair';

const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');
let dataDir: string;
beforeAll(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-charset-'));
});
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

async function parse(raw: Buffer) {
  return parseMail(raw, { dataDir });
}

describe('8-bit mail without a usable charset', () => {
  test('latin1HeadersAndBodyWithoutCharsetTurnIntoReplacementCharacters', async () => {
    const m = await parse(
      latin1(
        'From: K\xe5re \xd6berg <k@example.se>\r\nSubject: Klagom\xe5l p\xe5 avgift f\xf6r l\xe5n\r\nMIME-Version: 1.0\r\nContent-Transfer-Encoding: 8bit\r\n\r\nJag \xe4r missn\xf6jd.\r\n',
      ),
    );
    expect(m.subject).toBe('Klagomål på avgift för lån');
    expect(m.from).toEqual({ address: 'k@example.se', name: 'Kåre Öberg' });
    expect(m.text.trim()).toBe('Jag är missnöjd.');
    expect(m.problems).toEqual(expect.arrayContaining(['8-bit bytes in headers read as windows-1252', 'text without a usable charset read as windows-1252']));
  });

  test('windows1252PunctuationLabelledLatin1', async () => {
    const m = await parse(
      latin1(
        'From: a@b.se\r\nSubject: x\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n100 \x80 \x93citat\x94 \xe5\xe4\xf6\r\n',
      ),
    );
    expect(m.text.trim()).toBe('100 € “citat” åäö');
  });

  test('latin1BodyLabelledUtf8', async () => {
    const m = await parse(
      latin1(
        'From: a@b.se\r\nSubject: x\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nR\xe4ntan \xe4r f\xf6r h\xf6g\r\n',
      ),
    );
    expect(m.text.trim()).toBe('Räntan är för hög');
  });

  test('unknownCharsetWithLatin1Bytes', async () => {
    const m = await parse(latin1('From: a@b.se\r\nSubject: x\r\nContent-Type: text/plain; charset=x-klingon\r\n\r\nJag \xe4r arg\r\n'));
    expect(m.text.trim()).toBe('Jag är arg');
  });

  test('quotedPrintableLatin1WithoutCharset', async () => {
    const m = await parse(
      latin1(
        'From: a@b.se\r\nSubject: x\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nJag =E4r missn=F6jd med =E5terbetalningen.\r\n',
      ),
    );
    expect(m.text.trim()).toBe('Jag är missnöjd med återbetalningen.');
  });

  test('multipartPartsRepairedOneByOne', async () => {
    const raw = Buffer.concat([
      latin1('From: a@b.se\r\nSubject: Delbetalning f\xf6r l\xe5n\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="outer"\r\n\r\n'),
      latin1('--outer\r\nContent-Type: multipart/alternative; boundary="inner"\r\n\r\n'),
      latin1('--inner\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n\r\nF\xf6rsta delen \xe5\xe4\xf6\r\n'),
      latin1('--inner\r\nContent-Type: text/html; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n<p>Andra delen \xe5\xe4\xf6</p>\r\n'),
      latin1('--inner--\r\n'),
      latin1(
        '--outer\r\nContent-Type: text/plain; name="bilaga.txt"\r\nContent-Disposition: attachment; filename="bilaga.txt"\r\nContent-Transfer-Encoding: 8bit\r\n\r\nBilaga med \xe4\r\n',
      ),
      latin1('--outer--\r\n'),
    ]);
    const m = await parse(raw);
    expect(m.subject).toBe('Delbetalning för lån');
    expect(m.text).toContain('Första delen åäö');
    expect(m.attachments).toHaveLength(1);
  });
});

describe('mail that is right must not be changed', () => {
  test('validUtf8MailRewritten', () => {
    const raw = Buffer.from('From: a@b.se\r\nSubject: Räntan\r\n\r\nÄr för hög\r\n');
    expect(repairCharsets(raw)).toEqual({ bytes: raw, notes: [] });
  });

  test('correctLatin1DeclarationRewritten', () => {
    const raw = latin1(
      'From: a@b.se\r\nSubject: =?iso-8859-1?Q?R=E4nta?=\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\xc4r f\xf6r h\xf6g\r\n',
    );
    expect(repairCharsets(raw).bytes).toBe(raw);
  });

  test('brokenMimeThrowsInsteadOfPassingThrough', async () => {
    const raw = latin1('From: a@b.se\r\nContent-Type: multipart/mixed; boundary="x"\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\n\xe5 never closed');
    expect(() => repairCharsets(raw)).not.toThrow();
    expect((await parse(raw)).text).toContain('å never closed');
  });

  test('asciiQuotedPrintableWithDeclaredUtf8Rewritten', () => {
    const raw = latin1('From: a@b.se\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nR=C3=A4ntan\r\n');
    expect(repairCharsets(raw)).toEqual({ bytes: raw, notes: [] });
  });
});
