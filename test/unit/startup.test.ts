/**
 * Every command starts a process, and the tests start hundreds: loading the CLI took 0.48 s,
 * a third of it for libraries most commands never use (date-fns's whole index and every locale,
 * both OAuth providers' libraries). They are loaded when needed now; this keeps them out of the
 * start-up of the built CLI (`npm test` builds it first).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const CLI = path.join(__dirname, '..', '..', 'dist', 'src', 'cli.js');

test('cliStartUpLoadedLibrariesNoCommandNeededYet', () => {
  const script = `require(${JSON.stringify(CLI)}); process.stdout.write(JSON.stringify(Object.keys(require.cache)));`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  const loaded = (JSON.parse(r.stdout) as string[]).map((f) => f.split(`${path.sep}node_modules${path.sep}`).pop()!);
  // The CLI itself loaded (a broken path would make the check below vacuous).
  expect(loaded.some((f) => f.startsWith('handlebars'))).toBe(true);
  expect(loaded.filter((f) => /^(@azure\/msal-node|google-auth-library|gaxios)\//.test(f))).toEqual([]);
  expect(loaded.filter((f) => /^date-fns\/(index|locale)\.c?js$/.test(f))).toEqual([]);
});
