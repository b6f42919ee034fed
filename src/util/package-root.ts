/**
 * The folder of klagomal's own package.json, found by walking up from this file. It holds the
 * embedded default config and templates whether the code runs from dist/ (built) or from
 * src/ (tests), and whatever the caller's working directory is.
 */
import fs from 'node:fs';
import path from 'node:path';

let cached: string | null = null;

export function packageRoot(): string {
  if (cached) return cached;
  let dir = __dirname;
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { name?: string }).name === 'klagomal') {
      cached = dir;
      return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find klagomal's package.json above ${__dirname}`);
    dir = parent;
  }
}
