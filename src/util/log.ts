/**
 * Structured operator log, on pino. One JSON object per line on stderr (stdout is kept for
 * command output such as `--json`), or a short readable line when stderr is a terminal.
 *
 *   {"level":"info","time":"2026-11-19T08:14:03.120Z","pid":4711,"source":"klagomal","case":"KLG-2026-000042","msg":"mail filed",...}
 *
 * Levels mean something (what an operator's alerting can key on):
 *   fatal  the process ends: an uncaught error (logged as one line with its stack), a refused start
 *   error  a person must act: a mail quarantined, a send failed for good, a source or a stage stopped
 *   warn   degraded but healing by itself: a send retried, a connection dropped and rebuilt
 *   info   the normal life of a mail and of the service: filed, sent, started, stopped
 *   debug  details for a developer (KLAGOMAL_LOG_LEVEL=debug)
 *
 * Lines about a case carry `case` (the case number), lines about a source carry `source`.
 *
 * Personal data stays out: callers pass case numbers, source names and ids, never bodies,
 * subjects or personnummer; addresses go through `addressForLog`, which keeps only the domain.
 * As a guard against a mistake at a call site, every text that reaches a line (message and
 * fields) has its e-mail addresses reduced to their domain and its personnummer removed, and a
 * field named like content (`subject`, `body`, `text`, `personnummer`, ...) is dropped to
 * "[redacted]". Secrets get the same guard (src/util/secrets.ts): every password, client secret,
 * key and access token the process holds is blanked wherever it would appear, and so is any
 * text shaped like a token, as is a field named like a credential.
 *
 * Under systemd (stderr is the journal) each line starts with its syslog priority, `<3>` for
 * error, `<4>` warn, `<6>` info, `<7>` debug: journald takes it as the entry's priority and strips
 * it, so `journalctl -u klagomal -p warning` works and `journalctl -o cat` shows the pure JSON.
 *
 * Writing never holds up the pipeline: JSON lines go through an asynchronous pino destination
 * (sonic-boom) that buffers while stderr is slow and drops lines, rather than blocking, past
 * 16 MiB; the buffer is flushed synchronously when the process exits (pino registers that) and
 * by `flushLogs()`.
 */
import fs from 'node:fs';
import pino from 'pino';
import { replacePersonnummer } from './personnummer';
import { redactSecrets } from './secrets';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'fatal';
const LEVELS: readonly string[] = ['debug', 'info', 'warn', 'error', 'silent'];

export type LogFields = Record<string, string | number | boolean | null | undefined>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** The process ends after this line (an uncaught error, a refused start). */
  fatal(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  /** Default: $KLAGOMAL_LOG_LEVEL (debug, info, warn, error, silent), else info. */
  level?: LogLevel | 'silent';
  /** Readable lines instead of JSON (default: when stderr is a terminal). */
  pretty?: boolean;
  /** Where each line goes, without its newline (tests); default stderr. */
  write?: (line: string) => void;
}

/** Keys pino writes itself: a field with one of these names is renamed, so a line never has two. */
const RESERVED = new Set(['level', 'time', 'msg', 'pid']);
/** Fields that by their name hold what must never be logged. */
const CONTENT_KEYS = /^(subject|body|text|html|content|personnummer|pnr|ssn|raw)$/i;
/** Fields that by their name hold a credential (src/util/secrets.ts guards their values wherever they appear). */
const SECRET_KEYS = /^(password|pass|secret|clientSecret|token|accessToken|access_token|refreshToken|privateKey|private_key|assertion|authorization)$/i;

/** Every e-mail address in a text reduced to its domain (server replies quote the recipient). */
export function redactAddresses(text: string): string {
  return text.replace(/[^\s<>"'(),;:]+@([A-Za-z0-9.-]+\.[A-Za-z]{2,})/g, '…@$1');
}

/** The guard every logged text goes through: no secret or token, no address beyond its domain, no personnummer at all. */
export function redactForLog(text: string): string {
  let out = redactSecrets(text);
  out = out.includes('@') ? redactAddresses(out) : out;
  // Every written form (spaces, dashes, invisible characters, full-width digits): see personnummer.ts.
  return replacePersonnummer(out, () => '[personnummer]');
}

function cleanFields(fields: LogFields | undefined, into: Record<string, unknown>): Record<string, unknown> {
  if (!fields) return into;
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    const key = RESERVED.has(k) ? `${k}_` : k;
    if (CONTENT_KEYS.test(k) || SECRET_KEYS.test(k)) into[key] = '[redacted]';
    else if (typeof v === 'string') into[key] = redactForLog(v);
    else if (typeof v === 'number' && Number.isInteger(v) && v >= 1e9 && redactForLog(String(v)) !== String(v)) into[key] = '[personnummer]';
    else into[key] = v;
  }
  return into;
}

/** "2026-11-19T09:14:03.120+01:00 INFO  mail filed  case=KLG-2026-000042 source=klagomal" */
export function prettyLine(json: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith('\n') ? json : json + '\n';
  }
  const { level, time, msg, pid: _pid, ...rest } = o;
  const extra = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === 'string' && /\s/.test(v) ? JSON.stringify(v) : String(v)}`)
    .join(' ');
  return `${String(time)} ${String(level).toUpperCase().padEnd(5)} ${String(msg)}${extra ? '  ' + extra : ''}\n`;
}

const PRIORITY: Readonly<Record<string, number>> = { fatal: 2, error: 3, warn: 4, info: 6, debug: 7 };

/** `<3>{"level":"error",...}`: the line with its syslog priority in front, for journald (sd-daemon(3)). */
export function journalLine(line: string): string {
  const level = /^\{"level":"(\w+)"/.exec(line)?.[1];
  return level && level in PRIORITY ? `<${PRIORITY[level]}>${line}` : line;
}

/** Whether stderr is the journal's stream: systemd sets JOURNAL_STREAM to its device:inode (systemd.exec(5)). */
function stderrIsJournal(): boolean {
  const js = process.env.JOURNAL_STREAM;
  if (!js) return false;
  try {
    const st = fs.fstatSync(2, { bigint: true });
    return js === `${st.dev}:${st.ino}`;
  } catch {
    return false;
  }
}

// One asynchronous destination on stderr for the whole process, however many loggers are made.
let stderrDestination: pino.DestinationStream | null = null;
const flushable = new Set<{ flushSync(): void }>();

function destinationFor(pretty: boolean, write: ((line: string) => void) | undefined): pino.DestinationStream {
  if (write) return { write: (s: string) => write(s.endsWith('\n') ? s.slice(0, -1) : s) };
  // A terminal: a person is watching; synchronous writes keep the lines in order with the rest.
  if (pretty) return { write: (s: string) => void process.stderr.write(prettyLine(s)) };
  if (!stderrDestination) {
    const d = pino.destination({ dest: 2, sync: false, minLength: 0, maxLength: 16 * 1024 * 1024 });
    // A dropped line (stderr stuck for a long while) is not an error of the pipeline.
    d.on('error', () => undefined);
    flushable.add(d);
    const journal = stderrIsJournal();
    // pino ends the stream at 'beforeExit'; a line logged after that goes out directly.
    stderrDestination = {
      write: (line: string) => {
        const s = journal ? journalLine(line) : line;
        if ((d as { destroyed?: boolean }).destroyed) process.stderr.write(s);
        else d.write(s);
      },
    };
  }
  return stderrDestination;
}

/** Write out what the log buffers hold, now (before `process.exit`, or a shutdown's last line). */
export function flushLogs(): void {
  for (const d of flushable) {
    try {
      d.flushSync();
    } catch {
      /* not open yet, or a write in progress: pino's exit handler writes the rest */
    }
  }
}

function levelFrom(opts: LoggerOptions): LogLevel | 'silent' {
  if (opts.level) return opts.level;
  const env = process.env.KLAGOMAL_LOG_LEVEL?.toLowerCase();
  return env && LEVELS.includes(env) ? (env as LogLevel | 'silent') : 'info';
}

export function createLogger(opts: LoggerOptions = {}, base: LogFields = {}): Logger {
  const pretty = opts.pretty ?? Boolean(process.stderr.isTTY);
  const root = pino(
    {
      level: levelFrom(opts),
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      // The level as its name: what journald exporters, Loki and people grep for.
      formatters: { level: (label) => ({ level: label }) },
    },
    destinationFor(pretty, opts.write),
  );
  return wrap(root, cleanFields(base, {}));
}

/**
 * Our call order (message first, fields second) onto pino's. Bindings are merged here rather
 * than with pino's `child`, so that a field given both to `child` and to a call (`source`)
 * appears once in the line, with the call's value.
 */
function wrap(root: pino.Logger, bindings: Record<string, unknown>): Logger {
  const emit =
    (level: LogLevel) =>
    (msg: string, fields?: LogFields): void => {
      if (!root.isLevelEnabled(level)) return;
      root[level](cleanFields(fields, { ...bindings }), redactForLog(msg));
    };
  return {
    debug: emit('debug'),
    info: emit('info'),
    warn: emit('warn'),
    error: emit('error'),
    fatal: emit('fatal'),
    child: (fields) => wrap(root, cleanFields(fields, { ...bindings })),
  };
}

/** `anna.svensson@gmail.com` -> `…@gmail.com`: enough for an operator, not a person's identity. */
export function addressForLog(address: string | null | undefined): string {
  if (!address) return '(none)';
  const at = address.lastIndexOf('@');
  return at >= 0 ? `…${address.slice(at)}` : '…';
}

/** The message of an error and of its causes, one line, for logs and stored errors. */
export function errorChain(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e && depth < 5; depth++) {
    if (e instanceof Error) {
      const code = (e as { code?: unknown }).code;
      parts.push(code ? `${e.message} (${String(code)})` : e.message);
      e = (e as { cause?: unknown }).cause;
    } else {
      parts.push(String(e));
      break;
    }
  }
  return parts.join(': ').replace(/\s+/g, ' ').slice(0, 2000);
}

export const silentLogger: Logger = createLogger({ level: 'silent', write: () => undefined });
