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
import type { Instant } from '../util/clock';
import type { Actor } from '../cases/lifecycle';

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
  if (permanent)
    markAddressFailing(store, config, {
      address: returned.to,
      at,
      reason: `permanent bounce of ${returned.kind} ${returned.messageId}`,
      caseId: returned.caseId,
      inboundId,
      actor: 'system',
    });
}

/**
 * Mark `address` failing for loop.bouncingAddressDays (nothing when that is 0), with the
 * `address-failing` event on its case: after a permanent bounce, or a refusal of the address
 * itself while sending (src/reply/outbox-sender.ts). `detail`: what the event adds.
 */
export function markAddressFailing(
  store: Store,
  config: Config,
  m: {
    readonly address: string;
    readonly at: Instant;
    readonly reason: string;
    readonly caseId: number | null;
    readonly inboundId?: number;
    readonly outboxId?: number;
    readonly actor: Actor;
    readonly detail?: Record<string, unknown>;
  },
): void {
  const days = config.loop.bouncingAddressDays;
  if (days <= 0) return;
  const until = toInstant(new Date(new Date(m.at).getTime() + days * 86_400_000));
  store.markAddressFailing(m.address, m.at, until, m.reason, m.inboundId ?? null);
  store.appendEvent({
    at: m.at,
    caseId: m.caseId,
    ...(m.inboundId !== undefined ? { inboundId: m.inboundId } : {}),
    ...(m.outboxId !== undefined ? { outboxId: m.outboxId } : {}),
    actor: m.actor,
    type: 'address-failing',
    detail: { until, days, ...m.detail },
  });
}
