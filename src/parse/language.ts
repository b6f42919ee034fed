/**
 * Which of our template languages a complaint is written in. A small, explainable scorer:
 * common function words of each language, plus å/ä/ö as strong Swedish evidence. English only
 * wins on clear evidence; anything unclear falls back to the firm's default (Swedish).
 */
import type { Language } from '../config/config';

const SWEDISH = new Set(
  'och att jag det inte är på för med har som en ett min mitt mina vi ni hej vänliga hälsningar tack ert er ni kan vill skulle inga kr av till om från också men eller när varför klagomål lån avgift faktura betalning'.split(
    ' ',
  ),
);
const ENGLISH = new Set(
  'the and to of is my you for not have with this that hello regards thank thanks your would please was were are been from but or when why complaint loan fee invoice payment dear sincerely'.split(
    ' ',
  ),
);

export function detectLanguage(text: string, subject: string, fallback: Language): Language {
  const sample = `${subject}\n${text}`.slice(0, 4000).toLowerCase();
  let sv = (sample.match(/[åäö]/g)?.length ?? 0) * 2;
  let en = 0;
  for (const word of sample.split(/[^a-zåäöéü]+/)) {
    if (SWEDISH.has(word)) sv++;
    if (ENGLISH.has(word)) en++;
  }
  if (en >= 3 && en > sv * 1.5) return 'en';
  if (sv >= 2) return 'sv';
  return fallback;
}
