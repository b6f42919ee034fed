/**
 * The operator log: one JSON object per line with the level by name, the level filter, child
 * fields, and the guard that keeps personal data out when a call site passes some by mistake.
 */
import { addressForLog, createLogger, errorChain, journalLine, prettyLine, redactForLog, silentLogger } from '../../src/util/log';

function capture(level?: 'debug' | 'info' | 'warn' | 'error') {
  const lines: string[] = [];
  const log = createLogger({ level, pretty: false, write: (l) => lines.push(l) });
  return { log, lines, objects: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('log lines', () => {
  test('jsonLineShape: one JSON object per line with level name, ISO time, pid, message and fields', () => {
    const { log, lines, objects } = capture();
    log.info('mail filed', { case: 'KLG-2026-000042', source: 'klagomal', inbound: 7, ok: true, none: null, gone: undefined });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('\n');
    const o = objects()[0];
    expect(o).toEqual({
      level: 'info',
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      pid: process.pid,
      msg: 'mail filed',
      case: 'KLG-2026-000042',
      source: 'klagomal',
      inbound: 7,
      ok: true,
      none: null,
    });
  });

  test('levelFilter: lines below the level are not written', () => {
    const { log, objects } = capture('warn');
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    expect(objects().map((o) => o.level)).toEqual(['warn', 'error']);
  });

  test('levelFromEnvironment: KLAGOMAL_LOG_LEVEL sets the level; an unknown value means info', () => {
    const old = process.env.KLAGOMAL_LOG_LEVEL;
    try {
      process.env.KLAGOMAL_LOG_LEVEL = 'debug';
      let lines: string[] = [];
      createLogger({ pretty: false, write: (l) => lines.push(l) }).debug('x');
      expect(lines).toHaveLength(1);
      process.env.KLAGOMAL_LOG_LEVEL = 'loud';
      lines = [];
      const log = createLogger({ pretty: false, write: (l) => lines.push(l) });
      log.debug('x');
      log.info('y');
      expect(lines).toHaveLength(1);
    } finally {
      if (old === undefined) delete process.env.KLAGOMAL_LOG_LEVEL;
      else process.env.KLAGOMAL_LOG_LEVEL = old;
    }
  });

  test('childFields: bindings on every line, a call field wins and appears once', () => {
    const { log, lines, objects } = capture();
    const child = log.child({ source: 'kundtjanst', stage: 'intake' }).child({ case: 'KLG-2026-000001' });
    child.info('one');
    child.warn('two', { source: 'klagomal' });
    log.info('root');
    expect(objects()[0]).toMatchObject({ source: 'kundtjanst', stage: 'intake', case: 'KLG-2026-000001', msg: 'one' });
    expect(objects()[1]).toMatchObject({ source: 'klagomal', level: 'warn' });
    expect(lines[1].match(/"source"/g)).toHaveLength(1);
    expect(objects()[2]).not.toHaveProperty('source');
  });

  test('reservedKeys: a field named level or msg does not replace the line own', () => {
    const { log, lines, objects } = capture();
    log.warn('escalation notice already queued', { level: 2, msg: 'x' });
    expect(lines[0].match(/"level"/g)).toHaveLength(1);
    expect(objects()[0]).toMatchObject({ level: 'warn', level_: 2, msg: 'escalation notice already queued', msg_: 'x' });
  });

  test('silentLogger writes nothing and children stay silent', () => {
    expect(() => silentLogger.child({ source: 'x' }).error('nothing')).not.toThrow();
  });
});

describe('personal data guard', () => {
  test('noAddressInLogLine: an address passed by mistake is reduced to its domain, in fields and message', () => {
    const { log, lines } = capture();
    log.error('send to anna.svensson@gmail.com failed', {
      error: '550 5.1.1 <anna.svensson@gmail.com>: Recipient address rejected',
      to: addressForLog('anna.svensson@gmail.com'),
    });
    expect(lines[0]).not.toContain('anna.svensson');
    const o = JSON.parse(lines[0]);
    expect(o.msg).toBe('send to …@gmail.com failed');
    expect(o.error).toBe('550 5.1.1 <…@gmail.com>: Recipient address rejected');
    expect(o.to).toBe('…@gmail.com');
  });

  test('noPersonnummerInLogLine: a personnummer in any form is removed, also in child fields and numbers', () => {
    const { log, lines } = capture();
    log.child({ customer: '19850412-3210' }).warn('parse problem near 850412-3210', { detail: 'pnr 198504123210 given', n: 198504123210 });
    expect(lines[0]).not.toMatch(/3210/);
    const o = JSON.parse(lines[0]);
    expect(o.customer).toBe('[personnummer]');
    expect(o.msg).toBe('parse problem near [personnummer]');
    expect(o.detail).toBe('pnr [personnummer] given');
    expect(o.n).toBe('[personnummer]');
  });

  test('contentFields: a field named like mail content is dropped whatever it holds', () => {
    const { log, objects } = capture();
    log.info('mail filed', { subject: 'Klagomål om min skuld', body: 'Hej...', personnummer: 'x', case: 'KLG-2026-000002' });
    expect(objects()[0]).toMatchObject({ subject: '[redacted]', body: '[redacted]', personnummer: '[redacted]', case: 'KLG-2026-000002' });
  });

  test('idsStayReadable: case numbers, times, ids and hashes are not mistaken for personal data', () => {
    for (const s of [
      'KLG-2026-000042',
      '2026-11-19T09:14:02.000Z',
      '1731999999.12345_1.host:2,S',
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      '/var/lib/klagomal/klagomal.db',
    ]) {
      expect(redactForLog(s)).toBe(s);
    }
  });
});

describe('helpers', () => {
  test('addressForLog keeps the domain only', () => {
    expect(addressForLog('Anna@Example.se')).toBe('…@Example.se');
    expect(addressForLog(null)).toBe('(none)');
  });

  test('errorChain joins causes with codes', () => {
    const err = new Error('outer', { cause: Object.assign(new Error('inner'), { code: 'ECONNREFUSED' }) });
    expect(errorChain(err)).toBe('outer: inner (ECONNREFUSED)');
  });

  test('journalLine: the syslog priority in front, for journald', () => {
    const { log, lines } = capture('debug');
    log.error('e');
    log.warn('w');
    log.info('i');
    log.debug('d');
    expect(lines.map((l) => journalLine(l).slice(0, 4))).toEqual(['<3>{', '<4>{', '<6>{', '<7>{']);
    expect(journalLine('not json')).toBe('not json');
  });

  test('prettyLine: time, level, message, then the fields as key=value', () => {
    const line = prettyLine(
      JSON.stringify({
        level: 'warn',
        time: '2026-11-19T08:00:00.000Z',
        pid: 1,
        msg: 'mail send failed, will retry',
        case: 'KLG-2026-000003',
        error: 'timed out',
      }),
    );
    expect(line).toBe('2026-11-19T08:00:00.000Z WARN  mail send failed, will retry  case=KLG-2026-000003 error="timed out"\n');
  });
});
