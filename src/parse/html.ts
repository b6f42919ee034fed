/**
 * HTML -> plain text for mails that have no text/plain part. Scripts, styles, templates and
 * <noscript> never survive into the stored text; images are dropped (their alt texts are noise
 * in a complaint and their addresses may be tracking pixels).
 */
import { convert } from 'html-to-text';

const SKIP = ['script', 'style', 'noscript', 'template', 'head', 'title', 'object', 'iframe', 'svg', 'img'];

export function htmlToPlainText(html: string): string {
  return convert(html, {
    wordwrap: false,
    selectors: [...SKIP.map((selector) => ({ selector, format: 'skip' })), { selector: 'a', options: { hideLinkHrefIfSameAsText: true } }],
  }).trim();
}
