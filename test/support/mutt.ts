/**
 * mutt (the real mail client) in batch mode, for officer tests: it composes replies the way a
 * person's client does (In-Reply-To, References, "Re:", the attribution line and the quote),
 * and instead of sending, its $sendmail writes the composed message to a file.
 *
 * How it runs without a person:
 *  - mutt is a curses program and needs a terminal: `script -qec CMD /dev/null` gives it a
 *    pseudo-terminal (TERM=vt100). Its stdin is /dev/null, so a prompt we did not foresee ends
 *    the run (and a timeout kills the process group) instead of hanging.
 *  - the keys are pushed from the muttrc (`push "<reply>..."`): mutt works through them before
 *    it reads the terminal at all;
 *  - `$editor` is a small Node script that edits the draft as an officer would: it sets headers
 *    (`edit_headers` puts them in the draft) and writes text above mutt's quote;
 *  - `$sendmail` is a shell script that saves stdin (the message) and its arguments (envelope).
 * `-n` skips the system Muttrc, so the result depends only on the settings below.
 */
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function muttAvailable(): { ok: true; version: string } | { ok: false; reason: string } {
  try {
    const version = execFileSync('mutt', ['-v'], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0];
    execFileSync('script', ['--version'], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'pipe'] });
    return { ok: true, version };
  } catch (e) {
    return { ok: false, reason: `mutt (and script from util-linux) needed: ${(e as Error).message.split('\n')[0]} (apt-get install mutt)` };
  }
}

export interface MuttEdit {
  /** Header lines to set in the draft (edit_headers), e.g. { Cc: 'klagomal@firma.se' }. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Text the officer writes above mutt's attribution and quote. */
  readonly text: string;
}

export interface MuttRun {
  /** The mail mutt composed, as it handed it to $sendmail (LF line ends). */
  readonly raw: string;
  /** The arguments mutt gave $sendmail (the envelope: -f sender -- recipients). */
  readonly sendmailArgs: string[];
  /** The draft mutt gave the editor, before the officer's edits. */
  readonly draft: string;
}

/** The editor: a Node script, so that the test depends on nothing but mutt, script and node. */
const EDITOR_JS = `
const fs = require('fs');
const file = process.argv[2];
const spec = JSON.parse(fs.readFileSync(process.env.MUTT_TEST_EDIT, 'utf8'));
const draft = fs.readFileSync(file, 'utf8');
fs.writeFileSync(process.env.MUTT_TEST_DIR + '/draft.txt', draft);
const cut = draft.indexOf('\\n\\n');
let head = cut >= 0 ? draft.slice(0, cut).split('\\n') : draft.split('\\n');
const body = cut >= 0 ? draft.slice(cut + 2) : '';
for (const [name, value] of Object.entries(spec.headers || {})) {
  const i = head.findIndex((l) => l.toLowerCase().startsWith(name.toLowerCase() + ':'));
  if (i >= 0) head[i] = name + ': ' + value;
  else head.push(name + ': ' + value);
}
fs.writeFileSync(file, head.join('\\n') + '\\n\\n' + spec.text + '\\n\\n' + body);
`;

const CAPTURE_SH = `#!/bin/sh
printf '%s\\n' "$@" > "$MUTT_TEST_DIR/sendmail-args"
cat > "$MUTT_TEST_DIR/sent.eml"
`;

/** A one-message mbox (mboxrd quoting of "From " lines) from a raw mail. */
export function mboxOf(raw: Buffer | string, envelopeFrom = 'MAILER-DAEMON'): string {
  const text = (typeof raw === 'string' ? raw : raw.toString('utf8')).replace(/\r\n/g, '\n');
  const quoted = text.replace(/^(>*From )/gm, '>$1');
  return `From ${envelopeFrom} Thu Jan  1 00:00:00 2026\n${quoted}${quoted.endsWith('\n') ? '' : '\n'}\n`;
}

const sh = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Open a one-message mailbox holding `raw` in mutt, push `keys` (which must end the session,
 * e.g. '<reply><send-message><quit>'), edit the draft as `edit` says, and return what mutt sent.
 */
export async function muttCompose(o: {
  raw: Buffer | string;
  from: { name: string; address: string };
  keys: string;
  edit: MuttEdit;
  timeoutMs?: number;
}): Promise<MuttRun> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mutt-'));
  try {
    const mbox = path.join(dir, 'inbox.mbox');
    fs.writeFileSync(mbox, mboxOf(o.raw));
    fs.writeFileSync(path.join(dir, 'editor.js'), EDITOR_JS);
    fs.writeFileSync(path.join(dir, 'capture.sh'), CAPTURE_SH, { mode: 0o755 });
    fs.writeFileSync(path.join(dir, 'edit.json'), JSON.stringify(o.edit));
    const muttrc = path.join(dir, 'muttrc');
    if (/["\\]/.test(o.keys)) throw new Error('muttCompose: keys must not contain " or \\');
    fs.writeFileSync(
      muttrc,
      [
        `set folder="${dir}"`,
        `set spoolfile="${mbox}"`,
        `set mbox="${path.join(dir, 'read.mbox')}"`,
        `set postponed="${path.join(dir, 'postponed')}"`,
        `set tmpdir="${dir}"`,
        'set mbox_type=mbox',
        'set read_only=yes',
        'set move=no',
        'set mark_old=no',
        `set realname="${o.from.name}"`,
        `set from="${o.from.address}"`,
        'set use_from=yes',
        'set envelope_from=yes',
        'set hostname="testfinans.se"',
        `set sendmail="${path.join(dir, 'capture.sh')}"`,
        `set editor="${sh(process.execPath)} ${sh(path.join(dir, 'editor.js'))}"`,
        'set edit_headers=yes',
        'set autoedit=yes',
        'set fast_reply=yes',
        'set include=yes',
        'set abort_unmodified=no',
        'set record=""',
        'set copy=no',
        'set postpone=no',
        'set charset="utf-8"',
        'set send_charset="us-ascii:utf-8"',
        'set crypt_autosign=no',
        'set crypt_autoencrypt=no',
        'set wait_key=no',
        'set sleep_time=0',
        'set beep=no',
        `push "${o.keys}"`,
        '',
      ].join('\n'),
    );
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: dir,
      TERM: 'vt100',
      LANG: 'C.UTF-8',
      LC_ALL: 'C.UTF-8',
      MUTT_TEST_DIR: dir,
      MUTT_TEST_EDIT: path.join(dir, 'edit.json'),
    };
    const screen = await runDetached('script', ['-qec', `mutt -n -F ${sh(muttrc)} -f ${sh(mbox)}`, '/dev/null'], env, o.timeoutMs ?? 15_000);
    const sent = path.join(dir, 'sent.eml');
    const draftFile = path.join(dir, 'draft.txt');
    if (!fs.existsSync(sent)) {
      const draft = fs.existsSync(draftFile) ? fs.readFileSync(draftFile, 'utf8') : '(the editor was never started)';
      throw new Error(`mutt sent nothing (keys ${o.keys}).\n--- screen ---\n${plainScreen(screen.output)}\n--- draft ---\n${draft}`);
    }
    return {
      raw: fs.readFileSync(sent, 'utf8'),
      sendmailArgs: fs.readFileSync(path.join(dir, 'sendmail-args'), 'utf8').split('\n').filter(Boolean),
      draft: fs.readFileSync(draftFile, 'utf8'),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The terminal output without escape sequences, for an error message. */
function plainScreen(s: string): string {
  return s
    .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '\n')
    .replace(/\x1b[()][A-Za-z0-9]|\x1b[=>]/g, '')
    .split('\n')
    .map((l) => l.trimEnd())
    .filter(Boolean)
    .slice(-25)
    .join('\n');
}

/** Run a command in its own process group; on timeout kill the whole group (script and mutt). */
function runDetached(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (output += d.toString('utf8')));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
      reject(new Error(`${cmd} did not finish within ${timeoutMs} ms.\n--- screen ---\n${plainScreen(output)}`));
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}
