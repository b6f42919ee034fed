/**
 * Structured operator log. One JSON object per line on stderr (stdout is kept for command
 * output such as `--json`), or a short readable line when stderr is a terminal.
 *
 * Personal data stays out: callers pass case numbers, source names and ids, never bodies,
 * subjects or personnummer; addresses go through `addressForLog`, which keeps only the domain.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, string | number | boolean | null | undefined>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  level?: LogLevel;
  pretty?: boolean;
  write?: (line: string) => void;
}

export function createLogger(opts: LoggerOptions = {}, base: LogFields = {}): Logger {
  const envLevel = process.env.KLAGOMAL_LOG_LEVEL as LogLevel | undefined;
  const level: LogLevel = opts.level ?? (envLevel && envLevel in ORDER ? envLevel : 'info');
  const pretty = opts.pretty ?? Boolean(process.stderr.isTTY);
  const write = opts.write ?? ((line: string) => process.stderr.write(line + '\n'));

  function emit(lvl: LogLevel, msg: string, fields?: LogFields): void {
    if (ORDER[lvl] < ORDER[level]) return;
    const all: LogFields = { ...base, ...fields };
    for (const k of Object.keys(all)) if (all[k] === undefined) delete all[k];
    if (pretty) {
      const extra = Object.entries(all)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ');
      write(`${new Date().toISOString()} ${lvl.toUpperCase().padEnd(5)} ${msg}${extra ? '  ' + extra : ''}`);
    } else {
      write(JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...all }));
    }
  }
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (f) => createLogger({ level, pretty, write }, { ...base, ...f }),
  };
}

/** `anna.svensson@gmail.com` -> `…@gmail.com`: enough for an operator, not a person's identity. */
export function addressForLog(address: string | null | undefined): string {
  if (!address) return '(none)';
  const at = address.lastIndexOf('@');
  return at >= 0 ? `…${address.slice(at)}` : '…';
}

/** Every e-mail address in a text reduced to its domain (server replies quote the recipient). */
export function redactAddresses(text: string): string {
  return text.replace(/[^\s<>"'(),;:]+@([A-Za-z0-9.-]+\.[A-Za-z]{2,})/g, '…@$1');
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

export const silentLogger: Logger = createLogger({ level: 'error', write: () => undefined });
