/**
 * One `klagomal` command run as its own process, measured from inside it: its peak RSS and CPU
 * time, written to stderr by a preloaded exit hook (resourceUsage of the process itself, not of
 * this bench). Used by the memory, import and bomb benchmarks.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { BIN } from '../test/support/world';

export interface Measured {
  readonly rssMb: number;
  readonly cpuS: number;
  /** What the command wrote, stdout then stderr as they came. */
  readonly out: string;
}

export async function runMeasured(args: readonly string[]): Promise<Measured> {
  const preload = path.join(os.tmpdir(), `klagomal-usage-${process.pid}.js`);
  fs.writeFileSync(
    preload,
    "process.on('exit', () => { const u = process.resourceUsage(); require('fs').writeSync(2, '\\nKLAGOMAL_USAGE ' + u.maxRSS + ' ' + (u.userCPUTime + u.systemCPUTime) + '\\n'); });\n",
  );
  try {
    const out = await new Promise<string>((resolve) => {
      const child = spawn(process.execPath, ['--require', preload, BIN, ...args], {
        env: { ...process.env, KLAGOMAL_LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let text = '';
      child.stdout.on('data', (d) => (text += d));
      child.stderr.on('data', (d) => (text += d));
      child.on('close', () => resolve(text));
    });
    const m = /KLAGOMAL_USAGE (\d+) (\d+)/.exec(out);
    return { rssMb: m ? Number(m[1]) / 1024 : NaN, cpuS: m ? Number(m[2]) / 1e6 : NaN, out };
  } finally {
    fs.rmSync(preload, { force: true });
  }
}
