/**
 * `klagomal status`: being written in this session (issue 8); replaced by its real command.
 */
import type { Command } from './shared';

export const statusCommand: Command = {
  summary: '(not yet available)',
  usage: 'klagomal status',
  options: {},
  positionals: true,
  async run() {
    throw new Error('klagomal status is not available yet');
  },
};
