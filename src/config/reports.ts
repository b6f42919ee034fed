/**
 * The `reports` section: reports klagomal mails on its own. `reports.monthly`: the monthly
 * management pack (src/monthly/), on by default when there is a manager to send it to.
 */
import type { Config, Officer } from './config';
import type { Section } from './reader';

export function readReports(s: Section, officers: readonly Officer[]): Config['reports'] {
  const hasManager = officers.some((o) => o.role === 'manager');
  const given = s.has('monthly');
  const monthly = s.bool('monthly', hasManager);
  if (given && monthly && !hasManager)
    s.problem('monthly', 'the monthly pack goes to the managers: give an officer "role": "manager", or set reports.monthly to false');
  s.done();
  return { monthly };
}
