/**
 * klagomal's command line: argument parsing and wiring only. The subcommands are registered
 * in src/cli/commands.ts, one file each in src/cli/.
 *
 * Exit codes: 0 success; 1 failure (one-line reason on stderr); 2 usage error.
 */
import { COMMANDS } from './cli/commands';
import { configOf, Io, NotFound } from './cli/shared';
import { ensureDataFolderOwner, WrongUser, writesDataFolder } from './cli/data-owner';
import { parse, UsageError } from './cli/args';
import { ConfigError } from './config/load';
import { errorChain, redactForLog } from './util/log';
import { formatProblem, TemplateError } from './reply/templates';
import { forTerminal } from './util/terminal';

const VERSION = '0.1.0';

function overview(): string {
  const names = Object.keys(COMMANDS);
  const width = Math.max(...names.map((n) => n.length));
  return [
    'klagomal: the complaints pipeline (mailbox in, cases, acknowledgements and deadlines out)',
    '',
    'Usage: klagomal COMMAND [options]      klagomal COMMAND --help',
    '',
    'Commands:',
    ...names.map((n) => `  ${n.padEnd(width)}  ${COMMANDS[n].summary}`),
    '',
    'Every command takes --config FILE (default: $KLAGOMAL_CONFIG, else config/default.json).',
  ].join('\n');
}

const defaultIo: Io = { out: (t) => process.stdout.write(t + '\n'), err: (t) => process.stderr.write(t + '\n') };

/** A line the service prints itself (not through its logger) as one JSON log line at fatal level. */
function fatalLine(text: string): string {
  return JSON.stringify({ level: 'fatal', time: new Date().toISOString(), pid: process.pid, msg: redactForLog(text) });
}

export async function main(argv: string[], to: Io = defaultIo): Promise<number> {
  // Whatever a command prints, no escape sequence from customer text reaches the terminal (src/util/terminal.ts).
  const io: Io = {
    out: (t) => to.out(forTerminal(t)),
    err: (t) => to.err(forTerminal(t)),
    // A raw mail is customer text with its escapes intact: to a file or a pipe, never a terminal.
    raw:
      to.raw ??
      ((b) => {
        if (process.stdout.isTTY) throw new UsageError('the raw mail is written as it is: redirect it to a file (... > mail.eml)');
        process.stdout.write(b);
      }),
  };
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.out(overview());
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-V') {
    io.out(VERSION);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.err(`klagomal: unknown command '${name}' (see 'klagomal --help')`);
    return 2;
  }
  // `start` is the service: whatever it says, a refused start included, is one JSON line
  // (README "Logs": `journalctl -o cat | jq` must never meet plain text).
  if (name === 'start' && to.err === defaultIo.err) io.err = (t) => process.stderr.write(fatalLine(t) + '\n');
  // --as-owner: root runs a command as the data folder's owner (src/cli/data-owner.ts).
  const asOwner = rest.includes('--as-owner');
  const args = rest.filter((a) => a !== '--as-owner');
  try {
    const { values, positionals } = parse(args, command.options, command.positionals);
    if (values.help) {
      io.out(`${command.usage}\n\n${command.summary}`);
      return 0;
    }
    // Before anything is opened: a command run as root must not leave root's files in the service's folder.
    if (writesDataFolder(name, positionals, values)) ensureDataFolderOwner(configOf(values), [name, ...args], asOwner);
    return await command.run(values, positionals, io);
  } catch (err) {
    if (err instanceof WrongUser) {
      io.err(`klagomal ${name}: ${err.lines[0]}`);
      for (const l of err.lines.slice(1)) io.err(l);
      return 1;
    }
    if (err instanceof UsageError) {
      io.err(`klagomal ${name}: ${err.message}`);
      return 2;
    }
    if (err instanceof ConfigError) {
      const first = err.problems[0];
      const more = err.problems.length > 1 ? ` (and ${err.problems.length - 1} more; run 'klagomal config check')` : '';
      io.err(`klagomal ${name}: ${err.file}: ${first.key ? first.key + ': ' : ''}${first.message}${more}`);
      return 1;
    }
    if (err instanceof TemplateError) {
      // The templates are broken and no good set was ever kept: every problem, one per line.
      io.err(`klagomal ${name}: the templates cannot be used (${err.problems.length} problem(s); fix them, then 'klagomal templates check'):`);
      for (const p of err.problems) io.err(`  ${formatProblem(p)}`);
      return 1;
    }
    if (err instanceof NotFound) {
      io.err(`klagomal ${name}: ${err.message}`);
      return 1;
    }
    io.err(`klagomal ${name}: ${errorChain(err)}`);
    return 1;
  }
}
