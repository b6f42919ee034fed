/**
 * The template checker: a template's Handlebars syntax tree walked against its kind's schema
 * (src/reply/template-schema.ts), so that an admin's edit that names a field the mail does not
 * have, calls an unknown helper, gives a helper the wrong kind of value or prints HTML
 * unescaped is refused with its file and line before it can reach a customer.
 */
import type { TemplateProblem } from './templates';
import type { TemplateKind } from '../cases/lifecycle';
import { editDistance } from '../util/edit-distance';
import { isList, ListOf, Leaf, Schema, schemaPaths } from './template-schema';

export const BUILTIN_HELPERS = new Set(['if', 'unless', 'each', 'with', 'lookup', 'log']);
/** What the first input of a formatting helper must be (the schema's leaf type). */
export const HELPER_INPUT: Readonly<Record<string, Leaf>> = { date: 'date', datetime: 'date', amount: 'number', plural: 'number' };
export const OUR_HELPERS = new Set(['date', 'datetime', 'milestoneName', 'eq', 'amount', 'plural', 'caseLink']);

export type Ctx = Schema | null; // null: unknown shape (no checking below it)

function lookupPath(stack: readonly Ctx[], expr: hbs.AST.PathExpression): { ok: boolean; leaf?: Leaf | Schema | ListOf } {
  if (expr.data) return { ok: true }; // @index, @first, @root ...
  const ctx = stack[stack.length - 1 - (expr.depth ?? 0)];
  if (ctx === undefined) return { ok: false };
  if (ctx === null) return { ok: true };
  let cur: Leaf | Schema | ListOf = ctx;
  for (const part of expr.parts) {
    if (part === 'this') continue;
    if (typeof cur === 'string') return { ok: part === 'length' ? false : false };
    if (isList(cur)) {
      if (part === 'length') return { ok: true, leaf: 'number' };
      return { ok: false };
    }
    const next: Leaf | Schema | ListOf | undefined = (cur as Schema)[part];
    if (next === undefined) return { ok: false };
    cur = next;
  }
  return { ok: true, leaf: cur };
}

export interface WalkEnv {
  readonly file: string;
  readonly kind: TemplateKind;
  readonly schema: Schema;
  readonly partials: ReadonlyMap<string, { file: string; ast: hbs.AST.Program }>;
  readonly problems: TemplateProblem[];
  readonly seenPartials: Set<string>;
}

export function checkProgram(program: hbs.AST.Program, stack: Ctx[], env: WalkEnv): void {
  for (const node of program.body) checkNode(node, stack, env);
}

function report(env: WalkEnv, node: hbs.AST.Node, message: string): void {
  env.problems.push({ file: env.file, line: node.loc?.start.line ?? null, message });
}

/**
 * `single`: the expression is printed or given to one of our formatting helpers, so it must be
 * one value, not a group or a list (`{{customer}}` would print "[object Object]").
 */
function checkExpr(expr: hbs.AST.Expression, stack: Ctx[], env: WalkEnv, single: boolean): void {
  if (expr.type === 'PathExpression') {
    const p = expr as hbs.AST.PathExpression;
    const found = lookupPath(stack, p);
    if (found.ok && single && found.leaf !== undefined && typeof found.leaf === 'object') {
      report(
        env,
        expr,
        `"${p.original}" is ${isList(found.leaf) ? 'a list: use {{#each ' + p.original + '}}' : 'a group of values: name one of them, e.g. {{' + p.original + '.' + Object.keys(found.leaf)[0] + '}}'}, not a value to print`,
      );
    }
    if (!found.ok) {
      const known = schemaPaths(env.schema);
      const guess = known.map((k) => [k, editDistance(p.original.toLowerCase(), k.toLowerCase())] as const).sort((a, b) => a[1] - b[1])[0];
      report(
        env,
        expr,
        `"${p.original}" is not a variable of ${env.kind} mails${guess && guess[1] <= Math.max(2, p.original.length / 3) ? ` (did you mean "${guess[0]}"?)` : ''}; see templates/README.md for the variables of each kind`,
      );
    }
  } else if (expr.type === 'SubExpression') {
    const s = expr as hbs.AST.SubExpression;
    checkCall(s.path, s.params, s.hash, stack, env, expr);
  }
}

function checkCall(
  pathExpr: hbs.AST.PathExpression | hbs.AST.Literal,
  params: hbs.AST.Expression[],
  hash: hbs.AST.Hash | undefined,
  stack: Ctx[],
  env: WalkEnv,
  node: hbs.AST.Node,
): void {
  const name = pathExpr.type === 'PathExpression' ? (pathExpr as hbs.AST.PathExpression).original : null;
  const isHelper = name !== null && (BUILTIN_HELPERS.has(name) || OUR_HELPERS.has(name));
  if (params.length > 0 || (hash && hash.pairs.length > 0)) {
    if (!isHelper) report(env, node, `unknown helper "${name ?? '?'}"; helpers: ${[...OUR_HELPERS, ...BUILTIN_HELPERS].join(', ')}`);
  } else if (!isHelper && pathExpr.type === 'PathExpression') checkExpr(pathExpr, stack, env, true);
  // Our helpers format one value; the built-in ones (if, each, with ...) take groups and lists.
  const single = name !== null && OUR_HELPERS.has(name);
  const wants = name !== null ? HELPER_INPUT[name] : undefined;
  const first = params[0];
  if (wants && first?.type === 'PathExpression') {
    const leaf = lookupPath(stack, first as hbs.AST.PathExpression).leaf;
    if (typeof leaf === 'string' && leaf !== wants)
      report(
        env,
        node,
        `{{${name}}} formats a ${wants}, but "${(first as hbs.AST.PathExpression).original}" is ${leaf === 'customer' || leaf === 'line' ? 'text' : `a ${leaf}`}`,
      );
  }
  for (const p of params) checkExpr(p, stack, env, single);
  for (const pair of hash?.pairs ?? []) checkExpr(pair.value, stack, env, single);
}

function checkNode(node: hbs.AST.Statement, stack: Ctx[], env: WalkEnv): void {
  switch (node.type) {
    case 'MustacheStatement': {
      const m = node as hbs.AST.MustacheStatement;
      // {{{x}}} and {{& x}} skip HTML escaping: customer text would become markup.
      if (!m.escaped && env.file.endsWith('.html.hbs'))
        report(env, node, 'unescaped output ({{{...}}} or {{& ...}}) is not allowed in HTML templates: write {{...}}, values are escaped');
      checkCall(m.path as hbs.AST.PathExpression, m.params, m.hash, stack, env, node);
      return;
    }
    case 'BlockStatement': {
      const b = node as hbs.AST.BlockStatement;
      const name = b.path.type === 'PathExpression' ? b.path.original : '';
      if (!BUILTIN_HELPERS.has(name) && !OUR_HELPERS.has(name)) report(env, node, `unknown block helper "#${name}"; use #if, #unless, #each or #with`);
      for (const p of b.params) checkExpr(p, stack, env, OUR_HELPERS.has(name));
      let inner: Ctx = stack[stack.length - 1];
      if ((name === 'each' || name === 'with') && b.params[0]?.type === 'PathExpression') {
        const found = lookupPath(stack, b.params[0] as hbs.AST.PathExpression);
        const leaf = found.leaf;
        if (name === 'each') inner = leaf && typeof leaf === 'object' && isList(leaf) ? leaf.list : null;
        else inner = leaf && typeof leaf === 'object' && !isList(leaf) ? (leaf as Schema) : null;
        if (found.ok && leaf && name === 'each' && !(typeof leaf === 'object' && isList(leaf)))
          report(env, node, `"${(b.params[0] as hbs.AST.PathExpression).original}" is not a list; #each needs one`);
      }
      const pushed = name === 'each' || name === 'with';
      if (b.program) checkProgram(b.program, pushed ? [...stack, inner] : stack, env);
      if (b.inverse) checkProgram(b.inverse, stack, env);
      return;
    }
    case 'PartialStatement': {
      const p = node as hbs.AST.PartialStatement;
      const name = p.name.type === 'PathExpression' ? (p.name as hbs.AST.PathExpression).original : String((p.name as unknown as hbs.AST.StringLiteral).value);
      const partial = env.partials.get(name);
      if (!partial) {
        report(env, node, `unknown partial "${name}"; partials here: ${[...env.partials.keys()].join(', ') || 'none'}`);
        return;
      }
      // Check the partial in this kind's context, once per kind, with its own file and lines.
      const key = `${env.kind}/${partial.file}`;
      if (env.seenPartials.has(key)) return;
      env.seenPartials.add(key);
      checkProgram(partial.ast, stack, { ...env, file: partial.file });
      return;
    }
    case 'PartialBlockStatement':
    case 'DecoratorBlock':
    case 'Decorator':
      report(env, node, `${node.type} is not supported in mail templates`);
      return;
    default:
      return; // content, comments
  }
}

/** Handlebars' parse error as one line: where, the source line, what it got. */
export function parseError(err: unknown): { line: number | null; message: string } {
  const msg = (err as Error).message ?? String(err);
  // "Parse error on line 3: ..." or, for a block closed by the wrong name, "if doesn't match each - 2:3".
  const m = /Parse error on line (\d+)/.exec(msg) ?? /line (\d+)/i.exec(msg) ?? / - (\d+):\d+/.exec(msg);
  const lines = msg.split('\n');
  const source = lines[1]?.trim();
  const got = /got '([^']+)'/.exec(msg)?.[1];
  const text =
    m && source
      ? `syntax error near "${source}"${got ? ` (unexpected ${got === 'INVALID' ? 'text: is a "}" missing?' : got})` : ''}`
      : `syntax error: ${lines[0]}`;
  return { line: m ? Number(m[1]) : null, message: text };
}
