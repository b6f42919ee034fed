/**
 * What `klagomal import` reads in a folder (src/ingest/import.ts): a Maildir's mail files and
 * its Maildir++ folders less those of mail the firm did not receive, or every .eml file below
 * a folder. Directory listings only.
 */
import fs from 'node:fs';
import path from 'node:path';

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

/** Maildir++ folders whose mail the firm did not receive as complaints (any level of the name). */
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

/** A Maildir's cur/ and new/ (tmp/ holds deliveries not finished), and its Maildir++ folders. */
export function listMaildir(root: string): { files: MailFile[]; skipped: string[] } {
  const files = mailFilesIn(root, '');
  const skipped: string[] = [];
  for (const name of fs.readdirSync(root).sort()) {
    // Maildir++: ".Folder" and ".Folder.Sub", each a Maildir of its own.
    if (!name.startsWith('.') || name === '.' || name === '..' || !isMaildir(path.join(root, name))) continue;
    const levels = name.slice(1).split('.');
    if (levels.some((l) => NOT_RECEIVED.test(l))) skipped.push(name);
    else files.push(...mailFilesIn(path.join(root, name), name));
  }
  return { files, skipped };
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
