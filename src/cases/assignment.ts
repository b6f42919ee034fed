/**
 * The contact person of a new case (the customer has a right to a designated one):
 *  1. the available officers (role "officer"; the managers when there are none) who take the
 *     case's category (an officer with no categories takes any) and its language;
 *  2. failing that, those who take the category in any language; then all available ones;
 *  3. round-robin within that pool. The position of the round is kept in the database, so that
 *     it survives restarts, and is one round for the whole firm, so that work spreads evenly.
 */
import type { Language, Officer } from '../config/config';
import type { Store } from '../store/store';

export interface AssignmentChoice {
  readonly officer: Officer;
  /** Which rule chose the pool: goes on the case's event. */
  readonly rule: string;
}

/** Pure: the pool of officers for a case, and the rule that made it. */
export function candidatePool(officers: readonly Officer[], category: string | null, language: Language | null): { pool: Officer[]; rule: string } {
  const available = officers.filter((o) => o.available);
  const base = available.some((o) => o.role === 'officer') ? available.filter((o) => o.role === 'officer') : available;
  const takesCategory = (o: Officer): boolean => o.categories.length === 0 || (category !== null && o.categories.includes(category));
  const specialists = base.filter((o) => category !== null && o.categories.includes(category));
  const byCategory = specialists.length > 0 ? specialists : base.filter(takesCategory);
  const categoryRule = specialists.length > 0 ? `category ${category}` : 'any category';
  const both = byCategory.filter((o) => language === null || o.languages.includes(language));
  if (both.length > 0) return { pool: both, rule: `round-robin: ${categoryRule}, language ${language ?? 'any'}` };
  if (byCategory.length > 0) return { pool: byCategory, rule: `round-robin: ${categoryRule} (no one for language ${language})` };
  return { pool: base, rule: 'round-robin: all available officers (no one takes this category)' };
}

/** Pure: the officer at `turn` of a pool. */
export function officerAtTurn(pool: readonly Officer[], turn: number): Officer | null {
  if (pool.length === 0) return null;
  return pool[((turn % pool.length) + pool.length) % pool.length];
}

/** Choose and advance the round. Call inside the filing transaction. */
export function nextContactOfficer(
  store: Store,
  officers: readonly Officer[],
  category: string | null = null,
  language: Language | null = null,
): AssignmentChoice | null {
  const turn = Number(store.meta('assignment.turn') ?? '0');
  const { pool, rule } = candidatePool(officers, category, language);
  const officer = officerAtTurn(pool, turn);
  if (!officer) return null;
  store.setMeta('assignment.turn', String(turn + 1));
  return { officer, rule };
}
