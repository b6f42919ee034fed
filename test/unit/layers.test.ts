/**
 * The bottom layers of src/ and what they may import (issue 13; each folder's README says the
 * same): util imports no other folder; deadlines imports only util at run time (the escalation
 * pass, which sends mail, is src/escalation/); config imports only util and the pure deadline
 * rules, so that every other folder can import config without closing a cycle.
 *
 * Read from the TypeScript syntax tree of every file: `import type` and imports whose every
 * name is `type X` are erased by the compiler and are not run-time edges.
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const SRC = path.resolve(__dirname, '../../src');

interface Edge {
  readonly from: string;
  readonly to: string;
  readonly typeOnly: boolean;
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

function resolveSpec(from: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null; // a package
  const base = path.resolve(path.dirname(from), spec);
  for (const c of [`${base}.ts`, path.join(base, 'index.ts')]) if (fs.existsSync(c)) return path.relative(SRC, c);
  throw new Error(`${path.relative(SRC, from)}: cannot resolve ${spec}`);
}

function edgesOf(file: string): Edge[] {
  const sf = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const out: Edge[] = [];
  const add = (spec: string, typeOnly: boolean): void => {
    const to = resolveSpec(file, spec);
    if (to) out.push({ from: path.relative(SRC, file), to, typeOnly });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const named = clause?.namedBindings && ts.isNamedImports(clause.namedBindings) ? clause.namedBindings.elements : null;
      const typeOnly = !!clause && (clause.isTypeOnly || (!clause.name && !!named && named.length > 0 && named.every((e) => e.isTypeOnly)));
      add(node.moduleSpecifier.text, typeOnly);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node.moduleSpecifier.text, node.isTypeOnly);
    } else if (
      ts.isCallExpression(node) &&
      (node.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(node.expression) && node.expression.text === 'require')) &&
      node.arguments.length === 1 &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      add(node.arguments[0].text, false);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

const edges = sourceFiles(SRC).flatMap(edgesOf);
const folderOf = (file: string): string => (file.includes(path.sep) ? file.split(path.sep)[0] : file);
const runTime = edges.filter((e) => !e.typeOnly);

/** Edges out of `folder` into another folder, as "from -> to" lines (what a failure shows). */
function leaving(folder: string, list: readonly Edge[], allowed: (to: string) => boolean): string[] {
  return list.filter((e) => folderOf(e.from) === folder && folderOf(e.to) !== folder && !allowed(e.to)).map((e) => `${e.from} -> ${e.to}`);
}

/** Every file reachable from `start` through run-time imports. */
function reachable(start: readonly string[]): Set<string> {
  const seen = new Set<string>(start);
  const todo = [...start];
  while (todo.length > 0) {
    const f = todo.pop()!;
    for (const e of runTime) {
      if (e.from !== f || seen.has(e.to)) continue;
      seen.add(e.to);
      todo.push(e.to);
    }
  }
  return seen;
}

const PURE_DEADLINES = new Set([path.join('deadlines', 'rules.ts'), path.join('deadlines', 'policy.ts'), path.join('deadlines', 'calendar.ts')]);

test('utilImportsNoOtherFolder', () => {
  // Not even a type: util is what every folder builds on (personnummer masking, edit distance,
  // Stockholm time, addresses, logging).
  expect(leaving('util', edges, () => false)).toEqual([]);
});

test('deadlinesImportOnlyUtilAtRunTime', () => {
  // The pure calendar and rules; the escalation pass (it builds and queues mail) is src/escalation/.
  expect(leaving('deadlines', runTime, (to) => folderOf(to) === 'util')).toEqual([]);
});

test('configImportsOnlyUtilAndPureDeadlineRules', () => {
  expect(leaving('config', edges, (to) => folderOf(to) === 'util' || PURE_DEADLINES.has(to))).toEqual([]);
});

test('configReachesNeitherParseNorReplyNorClassify', () => {
  const start = sourceFiles(path.join(SRC, 'config')).map((f) => path.relative(SRC, f));
  const outside = [...reachable(start)].filter((f) => !['config', 'util', 'deadlines'].includes(folderOf(f)));
  expect(outside).toEqual([]);
});

test('theImportReaderSeesRunTimeAndTypeEdges', () => {
  // The checks above are only as good as the reader: it must see the edges we know are there.
  expect(runTime).toContainEqual({ from: path.join('config', 'load.ts'), to: path.join('config', 'reader.ts'), typeOnly: false });
  expect(edges).toContainEqual({ from: path.join('config', 'config.ts'), to: path.join('deadlines', 'policy.ts'), typeOnly: true });
  expect(runTime.some((e) => e.from === path.join('pipeline', 'processor.ts') && folderOf(e.to) === 'parse')).toBe(true);
});
