/**
 * What `klagomal import` reads in a folder (src/ingest/import.ts): a Maildir's mail files,
 * its Maildir++ and Dovecot LAYOUT=fs folders less those of mail the firm did not receive, and
 * what below it is not read; or every .eml file below a folder. Directory listings only.
 */
import fs from 'node:fs';
import path from 'node:path';
import iconv from 'iconv-lite';

export interface MailFile {
  readonly file: string;
  readonly locator: string;
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

export function isMaildir(dir: string): boolean {
  return isDir(path.join(dir, 'cur')) || isDir(path.join(dir, 'new'));
}

/** Maildir folders whose mail the firm did not receive as complaints (any level of the name, decoded: notReceived). */
const NOT_RECEIVED =
  /^(sent|sent items|sent messages|sent mail|skickat|skickade objekt|drafts|utkast|trash|deleted items|deleted messages|borttagna objekt|papperskorg|junk|junk e-mail|spam|skräppost)$/i;

function mailFilesIn(dir: string, prefix: string): MailFile[] {
  const out: MailFile[] = [];
  for (const sub of ['cur', 'new']) {
    const d = path.join(dir, sub);
    if (!isDir(d)) continue;
    for (const name of fs.readdirSync(d)) {
      if (name.startsWith('.')) continue;
      out.push({ file: path.join(d, name), locator: path.posix.join(prefix, sub, name) });
    }
  }
  return out;
}

/**
 * A level of a folder's name that is mail the firm did not receive. Dovecot and Courier keep
 * folder names in IMAP's modified UTF-7 (RFC 3501 §5.1.3): "Skräppost" is ".Skr&AOQ-ppost" on
 * disk, so the name is decoded first, with the codec imapflow uses for mailbox names.
 */
function notReceived(level: string): boolean {
  return NOT_RECEIVED.test(level.includes('&') ? iconv.decode(Buffer.from(level), 'utf-7-imap') : level);
}

interface MaildirListing {
  files: MailFile[];
  skipped: string[];
  notRead: string[];
}

/** A Maildir's cur/ and new/ (tmp/ holds deliveries not finished), and its Maildir++ and LAYOUT=fs folders. */
export function listMaildir(root: string): MaildirListing {
  const out: MaildirListing = { files: [], skipped: [], notRead: [] };
  readFolder(root, '', [], out);
  for (const name of fs.readdirSync(root).sort()) {
    // Maildir++: ".Folder" and ".Folder.Sub", each a Maildir of its own.
    if (!name.startsWith('.') || name === '.' || name === '..' || !isMaildir(path.join(root, name))) continue;
    readFolder(path.join(root, name), name, name.slice(1).split('.'), out);
  }
  return out;
}

/** One Maildir folder, unless its name says the firm did not receive its mail, and what is below it. */
function readFolder(dir: string, rel: string, levels: string[], out: MaildirListing): void {
  if (levels.some(notReceived)) {
    out.skipped.push(rel);
    return;
  }
  out.files.push(...mailFilesIn(dir, rel));
  walkBelow(dir, rel, levels, true, out);
}

/**
 * The folders below a folder other than cur/, new/ and tmp/. Once only dot-folders were looked
 * at and every other folder was passed over unseen: a Maildir there (Dovecot's LAYOUT=fs,
 * "Arkiv/cur/", "Kunder/Reklamationer/new/") is read like a Maildir++ folder; any other folder
 * holding files, and an .eml file beside a Maildir's cur/ and new/, is named in notRead.
 * Courier's keyword and ACL folders (courierimap*) are its bookkeeping, not mail.
 */
function walkBelow(dir: string, rel: string, levels: string[], maildir: boolean, out: MaildirListing): void {
  const entries = fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    if (e.name.startsWith('.') || e.name.startsWith('courierimap') || (maildir && ['cur', 'new', 'tmp'].includes(e.name))) continue;
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (!e.isDirectory()) {
      if (maildir && e.isFile() && /\.eml$/i.test(e.name)) out.notRead.push(r);
      continue;
    }
    const full = path.join(dir, e.name);
    if (isMaildir(full)) {
      readFolder(full, r, [...levels, e.name], out);
      continue;
    }
    if (fs.readdirSync(full, { withFileTypes: true }).some((f) => !f.name.startsWith('.') && !f.isDirectory())) out.notRead.push(r);
    walkBelow(full, r, [...levels, e.name], false, out);
  }
}

/** Every .eml file below `root` (hidden entries and symbolic links to folders left out). */
export function listEmlFolder(root: string): { files: MailFile[]; ignored: number } {
  const files: MailFile[] = [];
  let ignored = 0;
  const walk = (dir: string, rel: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (e.name.startsWith('.')) continue;
      const full = path.join(dir, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(full, r);
      else if ((e.isFile() || e.isSymbolicLink()) && /\.eml$/i.test(e.name)) files.push({ file: full, locator: r });
      else if (e.isFile()) ignored++;
    }
  };
  walk(root, '');
  return { files, ignored };
}
