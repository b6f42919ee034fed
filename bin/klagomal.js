#!/usr/bin/env node
// klagomal's executable: runs the compiled CLI in dist/ (built by `npm ci` / `npm run build`).
'use strict';
const path = require('node:path');
const entry = path.join(__dirname, '..', 'dist', 'src', 'cli.js');
let cli;
try {
  cli = require(entry);
} catch (err) {
  if (err && err.code === 'MODULE_NOT_FOUND' && String(err.message).includes(entry)) {
    process.stderr.write('klagomal: not built yet: run `npm run build` (npm ci builds it too)\n');
    process.exit(1);
  }
  throw err;
}
cli.main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    // The service's stderr is its JSON log (README "Logs"): even this last line is JSON there.
    if (process.argv[2] === 'start')
      process.stderr.write(
        JSON.stringify({ level: 'fatal', time: new Date().toISOString(), pid: process.pid, msg: 'uncaught error: the service stops', error: String(err && err.message ? err.message : err), stack: err && err.stack }) + '\n',
      );
    else process.stderr.write(`klagomal: ${err && err.stack ? err.stack : err}\n`);
    process.exitCode = 1;
  },
);
