/**
 * Bounces of our own mail: a delivery failure that returns a mail we sent is recorded on its
 * case, and a permanent one marks the address failing, so that no automatic mail keeps going
 * to it (`loop.bouncingAddressDays`). The loop guard in src/reply/acknowledgement.ts reads it.
 */
import type { Config } from '../config/config';
import type { ParsedMail } from '../parse/parse';
import type { Store } from '../store/store';
import type { ThreadFacts } from '../classify/classify';
import { toInstant } from '../util/clock';

/** A bounce is permanent unless its DSN says the delivery is only delayed (RFC 3464 Action/Status). */
function permanentBounce(mail: ParsedMail): boolean {
  if (!mail.dsn) return true;
  if (mail.dsn.action === 'delayed' || mail.dsn.action === 'relayed' || mail.dsn.action === 'delivered') return false;
  return !(mail.dsn.status?.startsWith('4') ?? false);
}

/**
 * A bounce of a mail of ours: on its case as an event ("acknowledgement bounced"), and when it
 * is permanent the address is marked failing, so that no automatic mail keeps going to it.
 */
export function recordBounce(
  store: Store,
  config: Config,
  returned: NonNullable<ThreadFacts['returnedMail']>,
  mail: ParsedMail,
  inboundId: number,
  now: Date,
): void {
  const at = toInstant(now);
  const permanent = permanentBounce(mail);
  store.appendEvent({
    at,
    caseId: returned.caseId,
    inboundId,
    actor: 'system',
    type: returned.kind === 'acknowledgement' ? 'acknowledgement-bounced' : 'mail-bounced',
    detail: { kind: returned.kind, messageId: returned.messageId, permanent, dsnAction: mail.dsn?.action ?? null, dsnStatus: mail.dsn?.status ?? null },
  });
  if (permanent && config.loop.bouncingAddressDays > 0) {
    const until = toInstant(new Date(now.getTime() + config.loop.bouncingAddressDays * 86_400_000));
    store.markAddressFailing(returned.to, at, until, `permanent bounce of ${returned.kind} ${returned.messageId}`, inboundId);
    store.appendEvent({
      at,
      caseId: returned.caseId,
      inboundId,
      actor: 'system',
      type: 'address-failing',
      detail: { until, days: config.loop.bouncingAddressDays },
    });
  }
}
