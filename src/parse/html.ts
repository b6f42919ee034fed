/**
 * HTML -> plain text for mails that have no text/plain part. Scripts, styles, templates and
 * <noscript> never survive into the stored text; images are dropped (their alt texts are noise
 * in a complaint and their addresses may be tracking pixels).
 *
 * Bounded work for hostile HTML (issue 17: 10 MB of `<p>a</p>` took 1.1 GB, 100,000 nested
 * `<div>` 10 s of CPU and then a stack overflow). Two stages:
 *
 *  1. `flattenHtml`: htmlparser2's Tokenizer (linear in the input, no tree) reads the HTML once
 *     and writes a simplified copy: only the tags that shape text, no attributes but a link's
 *     href and a list's numbering, no comments, nothing inside script/style/head/svg/...; at
 *     most HTML_BOUNDS.maxDepth open elements (deeper tags are dropped, their text kept), at most
 *     maxElements elements and maxChars characters (the rest is not read). It keeps its own
 *     stack with push/pop: htmlparser2's Parser keeps its stack with unshift/shift, which costs
 *     time in proportion to the depth at every tag and makes deep nesting quadratic.
 *  2. html-to-text (the converter we trust for layout: lists, links, tables, whitespace) on that
 *     copy, whose size and depth are bounded, with its own limits set as a second fence.
 *
 * Past a bound nothing fails: the text so far is returned with a note for the mail's problems
 * (the raw mail keeps the whole HTML).
 */
import { compile } from 'html-to-text';
import { Tokenizer } from 'htmlparser2';

export const HTML_BOUNDS = {
  /**
   * Open elements kept nested. Outlook and Word nest 20-40 deep; marketing mail that never
   * closes its spans reaches 500 (in the public corpus). html-to-text recurses per level and
   * overflows the stack near 4,000.
   */
  maxDepth: 512,
  /** Elements handed to the converter (a long newsletter has a few thousand). */
  maxElements: 50_000,
  /** Characters of simplified HTML handed to the converter. */
  maxChars: 2_000_000,
} as const;

/** Elements whose content never becomes text (html-to-text is told to skip them too). */
const SKIP = ['script', 'style', 'noscript', 'template', 'head', 'title', 'object', 'iframe', 'svg', 'img'];
const SKIPPED = new Set(SKIP);

// htmlparser2's Parser rules (src/Parser.ts), so that the copy nests as the converter's parser
// will read it: void elements never open, and these open tags close the listed open ones.
const VOID = new Set([
  'area',
  'base',
  'basefont',
  'br',
  'col',
  'command',
  'embed',
  'frame',
  'hr',
  'img',
  'input',
  'isindex',
  'keygen',
  'link',
  'meta',
  'param',
  'source',
  'track',
  'wbr',
]);
const P = new Set(['p']);
const FORM = new Set(['input', 'option', 'optgroup', 'select', 'button', 'datalist', 'textarea']);
const DDT = new Set(['dd', 'dt']);
const RTP = new Set(['rt', 'rp']);
const TABLE_SECTION = new Set(['thead', 'tbody']);
const IMPLIES_CLOSE: ReadonlyMap<string, ReadonlySet<string>> = new Map<string, ReadonlySet<string>>([
  ['tr', new Set(['tr', 'th', 'td'])],
  ['th', new Set(['th'])],
  ['td', new Set(['thead', 'th', 'td'])],
  ['body', new Set(['head', 'link', 'script'])],
  ['li', new Set(['li'])],
  ['option', new Set(['option'])],
  ['optgroup', new Set(['optgroup', 'option'])],
  ['dd', DDT],
  ['dt', DDT],
  ['rt', RTP],
  ['rp', RTP],
  ['tbody', TABLE_SECTION],
  ['tfoot', TABLE_SECTION],
  ...['select', 'input', 'output', 'button', 'datalist', 'textarea'].map((t): [string, ReadonlySet<string>] => [t, FORM]),
  ...[
    'p',
    'h1',
    'h2',
    'h3',
    'h4',
    'h5',
    'h6',
    'address',
    'article',
    'aside',
    'blockquote',
    'details',
    'div',
    'dl',
    'fieldset',
    'figcaption',
    'figure',
    'footer',
    'form',
    'header',
    'hr',
    'main',
    'nav',
    'ol',
    'pre',
    'section',
    'table',
    'ul',
  ].map((t): [string, ReadonlySet<string>] => [t, P]),
]);
/** A tag dropped below the depth bound still ends a line when it is one of these. */
const BLOCK = new Set([...IMPLIES_CLOSE.keys(), 'li', 'tr', 'td', 'th', 'dd', 'dt', 'center', 'summary'].filter((t) => !FORM.has(t)));
/** The only attributes the converter reads (links, list numbering). */
const KEPT_ATTRIBUTES: Readonly<Record<string, ReadonlySet<string>>> = { a: new Set(['href']), ol: new Set(['start', 'type']) };
const MAX_ATTRIBUTE_CHARS = 8192;

export interface FlatHtml {
  readonly html: string;
  readonly notes: readonly string[];
}

/** One linear pass: HTML in, a bounded, simplified copy out (see the header). */
export function flattenHtml(input: string, bounds: { maxDepth: number; maxElements: number; maxChars: number } = HTML_BOUNDS): FlatHtml {
  const out: string[] = [];
  let outChars = 0;
  let elements = 0;
  const stack: Array<{ readonly name: string; readonly skip: boolean }> = [];
  const openCount = new Map<string, number>();
  const dropped = new Map<string, number>();
  let skipDepth = 0;
  let tag = '';
  let attrs = '';
  let attrName: string | null = null;
  let attrValue = '';
  let tooDeep = false;
  // A run of dropped block tags (100,000 nested <div>) ends one line, not 100,000.
  let separated = false;
  let stopped: 'elements' | 'chars' | null = null;

  const stop = (why: 'elements' | 'chars'): void => {
    stopped = why;
    tokenizer.pause();
  };
  const emit = (s: string): void => {
    if (skipDepth > 0 || stopped) return;
    separated = false;
    const room = bounds.maxChars - outChars;
    if (s.length > room) {
      if (room > 0) out.push(s.slice(0, room));
      outChars = bounds.maxChars;
      return stop('chars');
    }
    out.push(s);
    outChars += s.length;
  };
  const emitElement = (s: string): void => {
    if (skipDepth > 0 || stopped) return;
    if (++elements > bounds.maxElements) return stop('elements');
    emit(s);
  };
  // Inline tags (span, b) separate nothing, in a browser either.
  const separate = (block: boolean): void => {
    if (!block || separated || skipDepth > 0) return;
    emitElement('<br>');
    separated = true;
  };
  const pop = (): void => {
    const e = stack.pop()!;
    openCount.set(e.name, openCount.get(e.name)! - 1);
    if (e.skip) skipDepth--;
    else emit(`</${e.name}>`);
  };
  const open = (): void => {
    const name = tag;
    tag = '';
    if (!name) return;
    const implied = IMPLIES_CLOSE.get(name);
    if (implied) while (stack.length > 0 && implied.has(stack[stack.length - 1].name)) pop();
    if (VOID.has(name)) {
      if (name === 'br' || name === 'hr') emitElement(`<${name}>`);
      return;
    }
    if (stack.length >= bounds.maxDepth) {
      // Below the bound the structure goes, the words stay (and a block tag still ends a line).
      tooDeep = true;
      dropped.set(name, (dropped.get(name) ?? 0) + 1);
      separate(BLOCK.has(name));
      return;
    }
    const skip = SKIPPED.has(name);
    if (!skip) emitElement(`<${name}${attrs}>`);
    stack.push({ name, skip });
    openCount.set(name, (openCount.get(name) ?? 0) + 1);
    if (skip) skipDepth++;
  };
  const close = (name: string): void => {
    if (VOID.has(name)) {
      if (name === 'br') emitElement('<br>'); // `</br>` is a line break to browsers and to htmlparser2
      return;
    }
    const deep = dropped.get(name);
    if (deep) {
      dropped.set(name, deep - 1);
      separate(BLOCK.has(name));
      return;
    }
    if (!openCount.get(name)) {
      if (name === 'p') emitElement('<p></p>'); // as htmlparser2: a stray </p> is an empty paragraph
      return;
    }
    while (stack.length > 0 && stack[stack.length - 1].name !== name) pop();
    pop();
  };

  const tokenizer: Tokenizer = new Tokenizer(
    { decodeEntities: false }, // text and attribute values are copied as written; html-to-text decodes them
    {
      ontext: (start, end) => emit(input.slice(start, end)),
      ontextentity: () => undefined,
      onopentagname: (start, end) => {
        tag = input.slice(start, end).toLowerCase();
        attrs = '';
      },
      onattribname: (start, end) => {
        const name = input.slice(start, end).toLowerCase();
        attrName = KEPT_ATTRIBUTES[tag]?.has(name) ? name : null;
        attrValue = '';
      },
      onattribdata: (start, end) => {
        if (attrName !== null && attrValue.length < MAX_ATTRIBUTE_CHARS) attrValue += input.slice(start, Math.min(end, start + MAX_ATTRIBUTE_CHARS));
      },
      onattribentity: () => undefined,
      onattribend: () => {
        if (attrName !== null) attrs += ` ${attrName}="${attrValue.slice(0, MAX_ATTRIBUTE_CHARS).replace(/"/g, '&quot;')}"`;
        attrName = null;
      },
      onopentagend: () => open(),
      // HTML ignores the slash of `<div/>` (only void elements have no end): an open tag.
      onselfclosingtag: () => open(),
      onclosetag: (start, end) => close(input.slice(start, end).toLowerCase()),
      oncomment: () => undefined,
      oncdata: () => undefined,
      ondeclaration: () => undefined,
      onprocessinginstruction: () => undefined,
      onend: () => undefined,
    },
  );
  tokenizer.write(input);
  if (!stopped) tokenizer.end();

  const notes: string[] = [];
  if (tooDeep) notes.push(`HTML nested deeper than ${bounds.maxDepth} levels: the deeper tags were left out, their text kept`);
  if (stopped === 'elements') notes.push(`HTML has more than ${bounds.maxElements} elements: the text after them was not read (the raw mail is complete)`);
  if (stopped === 'chars') notes.push(`HTML longer than ${bounds.maxChars} characters once simplified: the rest was not read (the raw mail is complete)`);
  return { html: out.join(''), notes };
}

export interface HtmlText {
  readonly text: string;
  /** What was left out on the way, for the mail's problems; empty when nothing was. */
  readonly notes: readonly string[];
}

/**
 * The converter, compiled once: html-to-text's `convert` builds its selector tree from the
 * options at every call, which was two thirds of reading an HTML-only complaint (issue 16).
 */
const toText = compile({
  wordwrap: false,
  // A table row on a line of its own, its cells apart by a space. html-to-text's own table format
  // ran every cell and row of a layout or form table together ("Namn:Anna SvenssonTel0701234567
  // 811218-9876"), so a personnummer in a cell beside a phone number was not seen, and not masked.
  formatters: {
    cellApart: (elem, walk, builder) => {
      walk(elem.children, builder);
      builder.addInline(' ');
    },
  },
  selectors: [
    ...SKIP.map((selector) => ({ selector, format: 'skip' })),
    { selector: 'a', options: { hideLinkHrefIfSameAsText: true } },
    { selector: 'table', format: 'block', options: { leadingLineBreaks: 2, trailingLineBreaks: 2 } },
    { selector: 'tr', format: 'block', options: { leadingLineBreaks: 1, trailingLineBreaks: 1 } },
    { selector: 'td', format: 'cellApart' },
    { selector: 'th', format: 'cellApart' },
  ],
  // Never reached on the flattened copy; a fence, and set above it so that html-to-text never
  // cuts (it would say so with console.warn, outside our log): the copy is bounded by
  // HTML_BOUNDS already, so no input length is too long here.
  limits: { maxDepth: HTML_BOUNDS.maxDepth + 16, maxInputLength: Number.MAX_SAFE_INTEGER },
});

export function convertHtml(html: string): HtmlText {
  const flat = flattenHtml(html);
  return { text: toText(flat.html).trim(), notes: flat.notes };
}

export function htmlToPlainText(html: string): string {
  return convertHtml(html).text;
}
