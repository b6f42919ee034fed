/**
 * `klagomal import`: being written in this session (issue 8); replaced by its real command.
 */
import type { Command } from './shared';

export const importCommand: Command = {
  summary: '(not yet available)',
  usage: 'klagomal import',
  options: {},
  positionals: true,
  async run() {
    throw new Error('klagomal import is not available yet');
  },
};
