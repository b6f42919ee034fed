/**
 * Whether mail can reach a case's customer at all: used by `#final` / `#ask` before they queue,
 * and by `#approve` before the approved answer is queued (the address may have started
 * bouncing while the draft waited).
 */
import type { CaseRow, Store } from '../store/store';
import type { Instant } from '../util/clock';
import { Said, say } from './command-mail';

/** Why no mail can go to the case's customer now (no address, or it bounces), or null. */
export function whyNotToAddress(store: Store, c: CaseRow, at: Instant): Said | null {
  if (!c.customer_address)
    return say(
      'the case has no customer address: answer the customer another way and record it with #note',
      'ärendet har ingen kundadress: svara kunden på annat sätt och anteckna det med #note',
    );
  const failing = store.addressFailingUntil(c.customer_address, at);
  if (failing)
    return say(
      `mail to ${c.customer_address} bounces (until ${failing}): answer the customer another way`,
      `mejl till ${c.customer_address} studsar (till ${failing}): svara kunden på annat sätt`,
    );
  return null;
}
