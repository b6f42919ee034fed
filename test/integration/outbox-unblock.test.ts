/**
 * `klagomal outbox unblock ADDRESS`: an address marked failing (a permanent bounce, or a refusal
 * of the address at RCPT TO while sending) could not be lifted before loop.bouncingAddressDays
 * ran out, so a customer who had fixed the mailbox got no acknowledgement or answer for 30 days
 * (#final, #ask and #approve refuse an address that bounces). Through the real binary.
 */
import { makeWorld, World, deliverToMaildir, complaintMail } from '../support/world';

describe('klagomal outbox unblock', () => {
  let w: World;
  afterEach(() => w.cleanup());

  test('addressMarkedFailingCouldNotBeLiftedBeforeItsDays', async () => {
    w = makeWorld();
    deliverToMaildir(w.maildir, complaintMail(1));
    expect((await w.cli(['run', '--once'])).code).toBe(0);
    const now = new Date().toISOString() as never;
    {
      const { store, close } = w.store();
      try {
        store.markAddressFailing('kund1@example.com', now, '2099-01-01T00:00:00.000Z' as never, 'permanent bounce', null);
      } finally {
        close();
      }
    }
    const r = await w.cli(['outbox', 'unblock', 'Kund1@Example.com']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/kund1@example\.com is no longer marked failing.*1 case/);
    const { store, close } = w.store();
    try {
      expect(store.addressFailingUntil('kund1@example.com', now)).toBeNull();
      const [c] = store.listCases({});
      expect(store.eventsOfCase(c.id).filter((e) => e.type === 'address-unblocked')).toHaveLength(1);
    } finally {
      close();
    }
    // Not marked (any more): said, exit 1; not an address: a usage mistake, exit 2.
    expect((await w.cli(['outbox', 'unblock', 'kund1@example.com'])).code).toBe(1);
    expect((await w.cli(['outbox', 'unblock', 'kund1'])).code).toBe(2);
  });
});
