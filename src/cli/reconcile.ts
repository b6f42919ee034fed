/**
 * `klagomal reconcile`: being written in this session (issue 8); replaced by its real command.
 */
import type { Command } from './shared';

export const reconcileCommand: Command = {
  summary: '(not yet available)',
  usage: 'klagomal reconcile',
  options: {},
  positionals: true,
  async run() {
    throw new Error('klagomal reconcile is not available yet');
  },
};
