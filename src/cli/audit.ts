/**
 * `klagomal audit`: the history's integrity, for auditors and cron.
 *
 *   klagomal audit verify [--json]       recompute every event hash chain (src/audit/verify.ts);
 *                                        exit 0 when every chain verifies and no event is
 *                                        missing, 1 when something is broken (the first broken
 *                                        link of each chain is printed)
 *   klagomal audit encrypt-personnummer  encrypt the personnummer stored in clear by versions
 *                                        before schema 8 (needs the key; with
 *                                        personnummer.store false they are removed instead)
 */
import { verifyAudit, formatVerification } from '../audit/verify';
import { encryptClearPersonnummer } from '../cases/personnummer-store';
import { UsageError } from './args';
import type { Command } from './shared';
import { configOf, json, withStore } from './shared';

export const auditCommand: Command = {
  summary: 'verify the tamper-evident history (event hash chains); encrypt personnummer left in clear',
  usage: ['klagomal audit verify [--json] [--config FILE]', 'klagomal audit encrypt-personnummer [--config FILE]'].join('\n       '),
  options: { json: { type: 'boolean' } },
  positionals: true,
  async run(values, positionals, io) {
    const [verb] = positionals;
    if (verb === 'verify' && positionals.length === 1) {
      const config = configOf(values);
      return withStore(config, (store) => {
        const v = verifyAudit(store);
        if (values.json) io.out(json(v));
        else io.out(formatVerification(v).join('\n'));
        return v.ok ? 0 : 1;
      });
    }
    if (verb === 'encrypt-personnummer' && positionals.length === 1) {
      const config = configOf(values);
      return withStore(config, (store) => {
        const r = encryptClearPersonnummer(store, config);
        if (values.json) io.out(json(r));
        else if (r.encrypted + r.removed === 0) io.out('no personnummer is stored in clear');
        else if (r.encrypted) io.out(`${r.encrypted} personnummer encrypted`);
        else io.out(`${r.removed} personnummer removed (personnummer.store is false: only the mask is kept)`);
        return 0;
      });
    }
    throw new UsageError('usage: klagomal audit verify [--json] | audit encrypt-personnummer');
  },
};
