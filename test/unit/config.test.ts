/**
 * Config loading (src/config/load.ts): an operator's mistake must be reported at once, all of
 * it, naming the file, the key and what is allowed; a typo must never fall back to a default.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig, parseConfig } from '../../src/config/load';
import { missingSecrets } from '../../src/config/missing-secrets';

const DIR = path.join(path.sep, 'etc', 'klagomal');
const FILE = path.join(DIR, 'prod.json');

function minimal(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    firm: { name: 'Exempelfinans AB', complaintsAddress: 'klagomal@exempelfinans.se' },
    sources: [{ type: 'maildir', path: 'maildir' }],
    officers: [{ name: 'Karin', address: 'karin@exempelfinans.se', role: 'manager' }],
    ...extra,
  };
}

function imapSource(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'imap', host: 'imap.exempelfinans.se', user: 'klagomal', passwordEnv: 'KLAGOMAL_IMAP_PASSWORD', ...extra };
}

/** The problems parseConfig reports for `json`; fails the test when it does not throw a ConfigError. */
function problemsOf(json: unknown, file = FILE): ConfigError {
  try {
    parseConfig(json, file);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected parseConfig to throw a ConfigError');
}

function problemAt(err: ConfigError, key: string): string {
  const p = err.problems.find((x) => x.key === key);
  if (!p) throw new Error(`no problem for key ${key}; got ${JSON.stringify(err.problems)}`);
  return p.message;
}

describe('parseConfig: a valid config', () => {
  test('defaultsNotFilledIn', () => {
    const c = parseConfig(minimal(), FILE);
    // The defaults documented in src/config/config.ts:
    expect(c.file).toBe(FILE);
    expect(c.firm.fromName).toBe('Exempelfinans AB Klagomål'); // "<firm name> Klagomål"
    expect(c.firm.messageIdDomain).toBe('exempelfinans.se'); // the complaints address's domain
    expect(c.firm.staffAddresses).toEqual([]);
    expect(c.firm.staffDomains).toEqual([]);
    expect(c.firm.formAddresses).toEqual([]);
    expect(c.cases.prefix).toBe('KLG');
    expect(c.language).toBe('sv');
    expect(c.acknowledgement).toEqual({ enabled: true, maxPerAddressPer24h: 3, nameContactPerson: true });
    expect(c.firm.authservIds).toEqual([]);
    expect(c.firm.trustStaffFrom).toBe(false); // a staff From must be authenticated unless an admin says otherwise
    expect(c.cases.relatedWindowDays).toBe(90);
    expect(c.outbox).toEqual({ giveUpAfterHours: 120, retryBaseSeconds: 30, retryMaxSeconds: 3600, sendTimeoutSeconds: 120 });
    expect(c.deadlines.policies).toEqual(['promise-24h-14d']);
    expect(c.deadlines.byCategory).toEqual({ payments: ['psd2'], fraud: ['psd2'] });
    expect(c.deadlines.definitions['promise-24h-14d'].rules).toEqual({
      acknowledgement: { unit: 'hours', amount: 24 },
      finalAnswer: { unit: 'calendarDays', amount: 14 },
    });
    expect(c.deadlines.escalation).toEqual({
      enabled: true,
      schedule: '*/5 * * * *',
      warnBusinessDays: [2, 1],
      warnHours: [4],
      managerBusinessDays: 1,
      digestTime: '07:30',
      lateAfterMinutes: 15,
    });
    expect(c.deadlines.version).toMatch(/^[0-9a-f]{12}$/);
    expect(c.processing).toEqual({ batchSize: 50, isolatedHeapMb: 512, isolatedSeconds: 60 });
    expect(c.sources).toEqual([{ type: 'maildir', name: 'klagomal', path: path.join(DIR, 'maildir'), pollSeconds: 5 }]);
  });

  test('officerDefaultsNotFilledIn', () => {
    const c = parseConfig(
      minimal({
        officers: [
          { name: 'Karin', address: 'Karin@Exempelfinans.se', role: 'manager' },
          { name: 'Olle', address: 'olle@exempelfinans.se', languages: ['en'], categories: ['fees'], available: false },
        ],
      }),
      FILE,
    );
    expect(c.officers).toEqual([
      { name: 'Karin', address: 'karin@exempelfinans.se', role: 'manager', languages: ['sv', 'en'], categories: [], available: true },
      { name: 'Olle', address: 'olle@exempelfinans.se', role: 'officer', languages: ['en'], categories: ['fees'], available: false },
    ]);
    expect(c.firm.adminAddress).toBe('karin@exempelfinans.se'); // the first manager
  });

  test('imapDefaultsNotFilledIn', () => {
    const c = parseConfig(minimal({ sources: [imapSource(), imapSource({ name: 'second', tls: 'starttls' })] }), FILE);
    expect(c.sources[0]).toEqual({
      type: 'imap',
      name: 'klagomal', // the first source's default name
      host: 'imap.exempelfinans.se',
      port: 993, // implicit TLS
      tls: 'implicit',
      tlsRejectUnauthorized: true,
      user: 'klagomal',
      passwordEnv: 'KLAGOMAL_IMAP_PASSWORD',
      auth: null,
      mailbox: 'INBOX',
      sentFolder: null,
      processedFolder: null,
      idle: true,
      pollSeconds: 60,
      fetchBatchSize: 200,
    });
    expect(c.sources[1]).toMatchObject({ name: 'second', tls: 'starttls', port: 143 });
  });

  test.each<[string, number]>([
    ['implicit', 465],
    ['starttls', 587],
    ['none', 25],
  ])('smtpDefaultPortWrongForTls %s', (tls, port) => {
    const c = parseConfig(minimal({ transport: { type: 'smtp', host: 'smtp.exempelfinans.se', tls } }), FILE);
    expect(c.transport).toEqual({
      type: 'smtp',
      host: 'smtp.exempelfinans.se',
      port,
      tls,
      tlsRejectUnauthorized: true,
      user: null,
      passwordEnv: null,
      auth: null,
      maxConnections: 3,
    });
  });

  test('relativePathsResolvedAgainstWorkingDirectoryInsteadOfConfigFolder', () => {
    const c = parseConfig(minimal(), FILE);
    expect(c.dataDir).toBe(path.join(path.sep, 'etc', 'data')); // default "../data"
    expect(c.database).toBe(path.join(path.sep, 'etc', 'data', 'klagomal.db'));
    expect(c.templates).toBe(path.join(path.sep, 'etc', 'templates')); // default "../templates"
    expect(c.transport).toEqual({ type: 'pickup', path: path.join(path.sep, 'etc', 'data', 'outbox', 'pickup') });
    expect(c.sources[0]).toMatchObject({ path: path.join(DIR, 'maildir') });

    const d = parseConfig(minimal({ dataDir: 'state', database: 'db/k.db', transport: { type: 'pickup', path: '/var/spool/out' } }), FILE);
    expect(d.dataDir).toBe(path.join(DIR, 'state'));
    expect(d.database).toBe(path.join(DIR, 'db', 'k.db'));
    expect(d.transport).toEqual({ type: 'pickup', path: '/var/spool/out' }); // absolute stays as it is
  });

  test('staffListsNotNormalised', () => {
    const c = parseConfig(
      minimal({
        firm: { name: 'X', complaintsAddress: 'klagomal@x.se', staffAddresses: [' Anna@X.se '], staffDomains: ['@X.SE'], formAddresses: ['Form@Web.example'] },
      }),
      FILE,
    );
    expect(c.firm.staffAddresses).toEqual(['anna@x.se']);
    expect(c.firm.staffDomains).toEqual(['x.se']);
    expect(c.firm.formAddresses).toEqual(['form@web.example']);
  });

  test('configCanBeChangedAfterValidation', () => {
    const c = parseConfig(minimal(), FILE);
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.firm)).toBe(true);
    expect(Object.isFrozen(c.sources[0])).toBe(true);
  });

  test('commentKeyReportedAsUnknown', () => {
    expect(() => parseConfig(minimal({ $comment: 'a note for admins' }), FILE)).not.toThrow();
  });

  test('embeddedDefaultConfigDoesNotLoad', () => {
    const c = loadConfig(path.join(__dirname, '..', '..', 'config', 'default.json'));
    expect(c.firm.complaintsAddress).toBe('klagomal@exempelfinans.se');
  });
});

describe('parseConfig: problems', () => {
  test('onlyFirstProblemReported', () => {
    const err = problemsOf(
      minimal({
        language: 'fr',
        sources: [imapSource({ port: 'abc' })],
        outbox: { giveUpAfterHours: 0 },
      }),
    );
    expect(err.problems).toHaveLength(3);
    expect(err.problems.map((p) => p.key).sort()).toEqual(['language', 'outbox.giveUpAfterHours', 'sources[0].port']);
    expect(problemAt(err, 'sources[0].port')).toBe('expected a whole number from 1 to 65535, got "abc"');
    expect(problemAt(err, 'outbox.giveUpAfterHours')).toBe('expected a whole number from 1 to 720, got 0');
    expect(problemAt(err, 'language')).toContain('allowed: "sv", "en"');
    // The message lists every problem with its key.
    expect(err.message).toContain('3 problems');
    for (const key of ['language', 'outbox.giveUpAfterHours', 'sources[0].port']) expect(err.message).toContain(`  - ${key}: `);
  });

  test('messageDoesNotNameTheFile', () => {
    const one = problemsOf(minimal({ language: 'fr' }), '/srv/klagomal/config/prod.json');
    expect(one.message.startsWith('/srv/klagomal/config/prod.json: language: ')).toBe(true);
    expect(one.file).toBe('/srv/klagomal/config/prod.json');
    const two = problemsOf(minimal({ language: 'fr', processing: { batchSize: -1 } }), '/srv/klagomal/config/prod.json');
    expect(two.message.startsWith('/srv/klagomal/config/prod.json: 2 problems:')).toBe(true);
    expect(two.name).toBe('ConfigError');
  });

  test.each<[string, Record<string, unknown>, string, string]>([
    ['root', { langauge: 'sv' }, 'langauge', 'did you mean "language"?'],
    ['nested object', { outbox: { giveUpAfterHour: 3 } }, 'outbox.giveUpAfterHour', 'did you mean "giveUpAfterHours"?'],
    ['list item', { sources: [{ type: 'maildir', path: 'm', pollSecond: 5 }] }, 'sources[0].pollSecond', 'did you mean "pollSeconds"?'],
    ['firm', { firm: { name: 'X', complaintsAddress: 'k@x.se', staffDomain: ['x.se'] } }, 'firm.staffDomain', 'did you mean "staffDomains"?'],
  ])('typoInKeySilentlyIgnored (%s)', (_label, extra, key, hint) => {
    const err = problemsOf(minimal(extra));
    const message = problemAt(err, key);
    expect(message).toContain('unknown key');
    expect(message).toContain(hint);
  });

  test('misleadingHintForUnrelatedKey', () => {
    const err = problemsOf(minimal({ completelyDifferent: 1 }));
    const message = problemAt(err, 'completelyDifferent');
    expect(message).toContain('unknown key');
    expect(message).not.toContain('did you mean');
    expect(message).toContain('known keys here:');
  });

  test.each<[string, Record<string, unknown>, string, string[]]>([
    ['language', { language: 'de' }, 'language', ['got "de"', 'allowed: "sv", "en"']],
    ['language case', { language: 'SV' }, 'language', ['allowed: "sv", "en"', 'did you mean "sv"?']],
    ['source type', { sources: [{ type: 'pop3', path: 'm' }] }, 'sources[0].type', ['got "pop3"', 'allowed: "maildir", "imap"']],
    ['tls', { sources: [imapSource({ tls: 'ssl' })] }, 'sources[0].tls', ['allowed: "implicit", "starttls", "none"']],
    ['transport', { transport: { type: 'sendmail' } }, 'transport.type', ['allowed: "pickup", "smtp"']],
    [
      'deadline unit',
      { deadlines: { custom: { mine: { finalAnswer: { unit: 'weeks', amount: 2 } } } } },
      'deadlines.custom.mine.finalAnswer.unit',
      ['allowed: "hours", "calendarDays", "businessDays"'],
    ],
    [
      'preset',
      { deadlines: { custom: { mine: { preset: 'psd3' } } } },
      'deadlines.custom.mine.preset',
      ['allowed: "promise-24h-14d", "confirmation-3bd", "psd2", "ecsp"'],
    ],
  ])('wrongEnumValueWithoutAllowedValues (%s)', (_label, extra, key, parts) => {
    const message = problemAt(problemsOf(minimal(extra)), key);
    for (const p of parts) expect(message).toContain(p);
  });

  test.each<[string, Record<string, unknown>, string, string]>([
    ['port too big', { sources: [imapSource({ port: 70000 })] }, 'sources[0].port', 'from 1 to 65535'],
    ['port fraction', { sources: [imapSource({ port: 993.5 })] }, 'sources[0].port', 'from 1 to 65535'],
    [
      'hours deadline too long',
      { deadlines: { custom: { mine: { acknowledgement: { unit: 'hours', amount: 9000 } } } } },
      'deadlines.custom.mine.acknowledgement.amount',
      'from 1 to 8784',
    ],
    [
      'days deadline too long',
      { deadlines: { custom: { mine: { finalAnswer: { unit: 'businessDays', amount: 400 } } } } },
      'deadlines.custom.mine.finalAnswer.amount',
      'from 1 to 366',
    ],
    [
      'statutory deadline lengthened',
      { deadlines: { custom: { psd2long: { preset: 'psd2', finalAnswer: { unit: 'businessDays', amount: 20 } } } } },
      'deadlines.custom.psd2long.finalAnswer',
      'allows at most 15 businessDays here; a statutory deadline may be shortened, never lengthened (got 20 businessDays)',
    ],
    [
      'statutory deadline in another unit',
      { deadlines: { custom: { psd2cal: { preset: 'psd2', finalAnswer: { unit: 'calendarDays', amount: 10 } } } } },
      'deadlines.custom.psd2cal.finalAnswer',
      'never lengthened (got 10 calendarDays)',
    ],
    ['unknown policy', { deadlines: { policies: ['promise-24h-14d', 'vip'] } }, 'deadlines.policies[1]', 'unknown policy "vip"; known: promise-24h-14d'],
    ['no answer date', { deadlines: { policies: ['confirmation-3bd'] } }, 'deadlines.policies', 'no policy here sets finalAnswer'],
    ['closed date', { deadlines: { extraClosedDates: ['2026-02-30'] } }, 'deadlines.extraClosedDates[0]', 'expected a date "YYYY-MM-DD"'],
    ['cron', { deadlines: { escalation: { schedule: 'every five minutes' } } }, 'deadlines.escalation.schedule', 'not a valid cron expression'],
    ['digest time', { deadlines: { escalation: { digestTime: '7.30' } } }, 'deadlines.escalation.digestTime', 'expected a time "HH:MM"'],
    ['no manager', { officers: [{ name: 'O', address: 'o@x.se' }] }, 'officers', 'at least one officer with "role": "manager"'],
    [
      'officer category',
      { officers: [{ name: 'K', address: 'k@x.se', role: 'manager', categories: ['fess'] }] },
      'officers[0].categories[0]',
      'unknown category "fess"; allowed: fraud, payments',
    ],
    [
      'officer language',
      { officers: [{ name: 'K', address: 'k@x.se', role: 'manager', languages: ['de'] }] },
      'officers[0].languages[0]',
      'unknown language "de"',
    ],
    ['sent folder is the inbox', { sources: [imapSource({ sentFolder: 'INBOX' })] }, 'sources[0].sentFolder', 'must differ from "mailbox"'],
    ['trust as text', { firm: { name: 'X', complaintsAddress: 'k@x.se', trustStaffFrom: 'yes' } }, 'firm.trustStaffFrom', 'expected true or false'],
    ['bad address', { firm: { name: 'X', complaintsAddress: 'not an address' } }, 'firm.complaintsAddress', 'an e-mail address like'],
    ['bad env name', { sources: [imapSource({ passwordEnv: 'my password' })] }, 'sources[0].passwordEnv', 'an environment variable name'],
    ['bad prefix', { cases: { prefix: 'klg' } }, 'cases.prefix', '1-10 capital letters'],
    [
      'bad staff address',
      { firm: { name: 'X', complaintsAddress: 'k@x.se', staffAddresses: ['anna'] } },
      'firm.staffAddresses[0]',
      'expected an e-mail address',
    ],
    ['bool as text', { acknowledgement: { enabled: 'yes' } }, 'acknowledgement.enabled', 'expected true or false, got "yes"'],
    ['empty sources', { sources: [] }, 'sources', 'at least one source'],
    ['sources not a list', { sources: { type: 'maildir' } }, 'sources', 'expected a list of objects'],
    ['smtp user without password', { transport: { type: 'smtp', host: 'h', user: 'u' } }, 'transport.passwordEnv', 'required when "user" is set'],
  ])('badValueNotReportedWithRange (%s)', (_label, extra, key, expected) => {
    expect(problemAt(problemsOf(minimal(extra)), key)).toContain(expected);
  });

  test('missingRequiredKeysNotEachReported', () => {
    const err = problemsOf({ sources: [{ type: 'imap' }] });
    const keys = err.problems.map((p) => p.key);
    expect(keys).toEqual(
      expect.arrayContaining(['firm', 'firm.name', 'firm.complaintsAddress', 'sources[0].host', 'sources[0].user', 'sources[0].passwordEnv']),
    );
  });

  test('duplicateSourceNamesAccepted', () => {
    const err = problemsOf(
      minimal({
        sources: [
          { type: 'maildir', name: 'inbox', path: 'a' },
          { type: 'maildir', name: 'other', path: 'b' },
          { type: 'maildir', name: 'inbox', path: 'c' },
        ],
      }),
    );
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0].key).toBe('sources[2].name');
    expect(err.problems[0].message).toContain('"inbox" is used by another source');
  });

  test.each([null, [], 'text', 42])('nonObjectFileCrashes %p', (json) => {
    const err = problemsOf(json);
    expect(err.problems).toEqual([{ key: '', message: 'the file must hold one JSON object' }]);
  });
});

describe('missingSecrets', () => {
  test('missingPasswordEnvNotNamed', () => {
    const c = parseConfig(
      minimal({
        sources: [imapSource(), imapSource({ name: 'two', passwordEnv: 'OTHER_PASSWORD' })],
        transport: { type: 'smtp', host: 'smtp.x.se', user: 'u', passwordEnv: 'SMTP_PASSWORD' },
      }),
      FILE,
    );
    const problems = missingSecrets(c, { OTHER_PASSWORD: 'secret', KLAGOMAL_PERSONNUMMER_KEY: 'a'.repeat(64) });
    expect(problems).toEqual([
      { key: 'sources[0].passwordEnv', message: 'names KLAGOMAL_IMAP_PASSWORD, which is not set in the environment' },
      { key: 'transport.passwordEnv', message: 'names SMTP_PASSWORD, which is not set in the environment' },
    ]);
    expect(missingSecrets(c, { KLAGOMAL_IMAP_PASSWORD: 'a', OTHER_PASSWORD: 'b', SMTP_PASSWORD: 'c', KLAGOMAL_PERSONNUMMER_KEY: 'a'.repeat(64) })).toEqual([]);
  });

  test('emptySecretCountsAsSet', () => {
    const c = parseConfig(minimal({ sources: [imapSource()] }), FILE);
    expect(missingSecrets(c, { KLAGOMAL_IMAP_PASSWORD: '', KLAGOMAL_PERSONNUMMER_KEY: 'a'.repeat(64) })).toHaveLength(1);
  });

  test('maildirOnlyConfigAsksForSecrets', () => {
    // Only the personnummer key (personnummer.store is on by default), see 'personnummer' below.
    expect(missingSecrets(parseConfig(minimal(), FILE), { KLAGOMAL_PERSONNUMMER_KEY: 'a'.repeat(64) })).toEqual([]);
  });
});

describe('loadConfig', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-config-'));
  });
  afterEach(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('missingFileGivesStackTraceInsteadOfHint', () => {
    const file = path.join(tmp, 'nope.json');
    expect(() => loadConfig(file)).toThrow(ConfigError);
    try {
      loadConfig(file);
    } catch (err) {
      const e = err as ConfigError;
      expect(e.file).toBe(file);
      expect(e.message).toContain(file);
      expect(e.message).toContain('no such file');
      expect(e.message).toContain('--config');
    }
  });

  test('invalidJsonGivesStackTraceInsteadOfHint', () => {
    const file = path.join(tmp, 'broken.json');
    fs.writeFileSync(file, '{ "firm": { "name": "X", }');
    let caught: unknown;
    try {
      loadConfig(file);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const e = caught as ConfigError;
    expect(e.problems).toHaveLength(1);
    expect(e.problems[0].message).toMatch(/^not valid JSON: /);
    expect(e.message).toContain(file);
  });

  test('relativeConfigPathResolvedAgainstWrongFolder', () => {
    const sub = path.join(tmp, 'conf');
    fs.mkdirSync(sub);
    fs.writeFileSync(path.join(sub, 'k.json'), JSON.stringify(minimal()));
    const c = loadConfig(path.join(sub, 'k.json'));
    expect(c.file).toBe(path.join(sub, 'k.json'));
    expect(c.dataDir).toBe(path.join(tmp, 'data'));
    expect(c.sources[0]).toMatchObject({ path: path.join(sub, 'maildir') });
  });
});

describe('shutdown', () => {
  test('graceSecondsDefaultNotFilledIn', () => {
    expect(parseConfig(minimal(), FILE).shutdown).toEqual({ graceSeconds: 20 });
    expect(parseConfig(minimal({ shutdown: { graceSeconds: 5 } }), FILE).shutdown.graceSeconds).toBe(5);
  });

  test('graceSecondsOutOfRangeAccepted', () => {
    for (const bad of [0, -1, 601, 2.5, '20']) {
      const err = problemsOf(minimal({ shutdown: { graceSeconds: bad } }));
      expect(problemAt(err, 'shutdown.graceSeconds')).toMatch(/^expected a whole number from 1 to 600, got /);
    }
  });

  test('shutdownTypoFallsBackToDefault', () => {
    const err = problemsOf(minimal({ shutdown: { graceSecond: 5 } }));
    expect(err.problems.map((p) => p.key)).toContain('shutdown.graceSecond');
  });
});

describe('personnummer', () => {
  const KEY_B64 = Buffer.alloc(32, 9).toString('base64');

  test('storageAndKeyNameDefaultsNotFilledIn', () => {
    expect(parseConfig(minimal(), FILE).personnummer).toEqual({ store: true, keyEnv: 'KLAGOMAL_PERSONNUMMER_KEY' });
    expect(parseConfig(minimal({ personnummer: { store: false } }), FILE).personnummer).toEqual({ store: false, keyEnv: 'KLAGOMAL_PERSONNUMMER_KEY' });
    expect(parseConfig(minimal({ personnummer: { keyEnv: 'FIRMA_PNR_KEY' } }), FILE).personnummer.keyEnv).toBe('FIRMA_PNR_KEY');
  });

  test('badValuesAccepted', () => {
    const err = problemsOf(minimal({ personnummer: { store: 'yes', keyEnv: 'pnr-key' } }));
    expect(problemAt(err, 'personnummer.store')).toBe('expected true or false, got "yes"');
    expect(problemAt(err, 'personnummer.keyEnv')).toContain('an environment variable name like KLAGOMAL_PERSONNUMMER_KEY');
    expect(err.message).toContain(FILE);
  });

  test('keyItselfInTheFileAccepted', () => {
    // A secret never goes in the file: an unknown key is a problem, with the right name as a hint.
    const err = problemsOf(minimal({ personnummer: { key: KEY_B64 } }));
    expect(problemAt(err, 'personnummer.key')).toBe('unknown key; known keys here: store, keyEnv');
  });

  test('missingKeyLetsTheServiceStart', () => {
    const c = parseConfig(minimal(), FILE);
    const [p, ...rest] = missingSecrets(c, {});
    expect(rest).toEqual([]);
    expect(p.key).toBe('personnummer.keyEnv');
    expect(p.message).toMatch(/^names KLAGOMAL_PERSONNUMMER_KEY, which is not set in the environment; personnummer.store is on/);
    expect(p.message).toContain('openssl rand -base64 32');
    expect(missingSecrets(c, { KLAGOMAL_PERSONNUMMER_KEY: '' })).toHaveLength(1);
  });

  test('malformedKeyLetsTheServiceStart', () => {
    const c = parseConfig(minimal({ personnummer: { keyEnv: 'FIRMA_PNR_KEY' } }), FILE);
    for (const bad of ['hemligt', Buffer.alloc(16, 1).toString('base64'), 'f'.repeat(62)]) {
      const problems = missingSecrets(c, { FIRMA_PNR_KEY: bad });
      expect(problems).toHaveLength(1);
      expect(problems[0].key).toBe('personnummer.keyEnv');
      expect(problems[0].message).toMatch(/^names FIRMA_PNR_KEY, whose value is not a 32-byte key/);
      expect(problems[0].message).not.toContain(bad); // the value is never echoed
    }
  });

  test('goodKeyStillReported', () => {
    const c = parseConfig(minimal(), FILE);
    expect(missingSecrets(c, { KLAGOMAL_PERSONNUMMER_KEY: KEY_B64 })).toEqual([]);
    expect(missingSecrets(c, { KLAGOMAL_PERSONNUMMER_KEY: Buffer.alloc(32, 9).toString('hex') })).toEqual([]);
  });

  test('storageOffStillAsksForAKey', () => {
    expect(missingSecrets(parseConfig(minimal({ personnummer: { store: false } }), FILE), {})).toEqual([]);
  });
});

describe('retention', () => {
  test('retentionDefaultsNotFilledIn', () => {
    expect(parseConfig(minimal(), FILE).retention).toEqual({ closedCaseYears: 10, rawMailDays: null, schedule: '40 3 * * *' });
    expect(parseConfig(minimal({ retention: { closedCaseYears: 7, rawMailDays: 365, schedule: null } }), FILE).retention).toEqual({
      closedCaseYears: 7,
      rawMailDays: 365,
      schedule: null,
    });
    expect(parseConfig(minimal({ retention: { rawMailDays: null } }), FILE).retention.rawMailDays).toBeNull();
  });

  test('retentionMistakesReportedOneAtATime', () => {
    const err = problemsOf(minimal({ retention: { closedCaseYears: 0, rawMailDays: 'short', schedule: 'nightly', keepForever: true } }));
    expect(err.problems.map((p) => p.key).sort()).toEqual([
      'retention.closedCaseYears',
      'retention.keepForever',
      'retention.rawMailDays',
      'retention.schedule',
    ]);
    expect(problemAt(err, 'retention.closedCaseYears')).toBe('expected a whole number from 1 to 100, got 0');
    expect(problemAt(err, 'retention.rawMailDays')).toBe('expected a whole number from 1 to 36500, got "short"');
    expect(problemAt(err, 'retention.schedule')).toContain('not a valid cron expression: "nightly"');
    expect(problemAt(err, 'retention.keepForever')).toContain('unknown key');
    expect(err.message.startsWith(`${FILE}: 4 problems:`)).toBe(true);
  });

  test('rawMailPeriodLongerThanCasePeriodAccepted', () => {
    const err = problemsOf(minimal({ retention: { closedCaseYears: 1, rawMailDays: 400 } }));
    expect(problemAt(err, 'retention.rawMailDays')).toBe(
      '400 days is not shorter than closedCaseYears (1 years): raw mails go with their case anyway; give fewer days, or null',
    );
  });

  test('retentionTypoSilentlyIgnored', () => {
    const err = problemsOf(minimal({ retention: { closedCaseYear: 5 } }));
    expect(problemAt(err, 'retention.closedCaseYear')).toContain('did you mean "closedCaseYears"?');
  });
});

describe('source names', () => {
  test.each(['import', 'cli'])('reservedSourceNameRefused: %s is the name of mail the commands bring in', (name) => {
    const err = problemsOf(minimal({ sources: [{ type: 'maildir', name, path: 'maildir' }] }));
    expect(problemAt(err, 'sources[0].name')).toMatch(new RegExp(`"${name}" is reserved for mail brought in by \`klagomal (import|ingest)\``));
  });
});

describe('firm.mailPlatform (officers on Microsoft 365 and Google Workspace)', () => {
  const firm = (extra: Record<string, unknown>) => ({ name: 'Exempelfinans AB', complaintsAddress: 'klagomal@exempelfinans.se', ...extra });
  test('defaults to "own" with no tenant', () => {
    const c = parseConfig(minimal(), FILE);
    expect(c.firm.mailPlatform).toBe('own');
    expect(c.firm.tenantId).toBeNull();
  });
  test('microsoft365 takes the tenant id, lower-cased', () => {
    const c = parseConfig(minimal({ firm: firm({ mailPlatform: 'microsoft365', tenantId: '3F1C2A9E-5B7D-4C1E-9A2B-8D6E4F0A1B2C' }) }), FILE);
    expect(c.firm).toMatchObject({ mailPlatform: 'microsoft365', tenantId: '3f1c2a9e-5b7d-4c1e-9a2b-8d6e4f0a1b2c' });
  });
  test('microsoft365WithoutTenantIdIsRefusedNamingTheKey', () => {
    expect(problemAt(problemsOf(minimal({ firm: firm({ mailPlatform: 'microsoft365' }) })), 'firm.tenantId')).toMatch(
      /required with mailPlatform "microsoft365"/,
    );
    expect(problemAt(problemsOf(minimal({ firm: firm({ mailPlatform: 'microsoft365', tenantId: 'contoso' }) })), 'firm.tenantId')).toMatch(/GUID/);
    expect(problemAt(problemsOf(minimal({ firm: firm({ mailPlatform: 'exchange' }) })), 'firm.mailPlatform')).toMatch(/microsoft365/);
    expect(problemAt(problemsOf(minimal({ firm: firm({ tenantId: '3f1c2a9e-5b7d-4c1e-9a2b-8d6e4f0a1b2c' }) })), 'firm.tenantId')).toMatch(/only used/);
  });
});
