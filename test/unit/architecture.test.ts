/**
 * The house rules of src/ (issue 13), checked over the TypeScript import graph on every
 * `npm test`: no run-time import cycle between files or between folders, every SQL statement
 * in src/store, and no source file over 500 lines without a reason in its header. Type-only
 * imports (`import type`, or named imports that are all `type`) are left out: they vanish at
 * run time and cannot make a cycle.
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const SRC = path.resolve(__dirname, '../../src');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

const FILES = sourceFiles(SRC);
const rel = (f: string): string => path.relative(SRC, f);
/** A file's folder under src/ (a file directly in src/ is its own "folder"). */
const folderOf = (f: string): string => (rel(f).includes(path.sep) ? rel(f).split(path.sep)[0] : rel(f).replace(/\.ts$/, ''));

function resolveImport(from: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null;
  const base = path.resolve(path.dirname(from), spec);
  for (const c of [`${base}.ts`, path.join(base, 'index.ts')]) if (FILES.includes(c)) return c;
  return null;
}

/** The run-time imports of a file (type-only ones left out). */
function runtimeImports(file: string): string[] {
  const sf = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, false);
  const out: string[] = [];
  for (const st of sf.statements) {
    let spec: string | null = null;
    if (ts.isImportDeclaration(st)) {
      const clause = st.importClause;
      if (clause?.isTypeOnly) continue;
      const named = clause?.namedBindings;
      if (clause && !clause.name && named && ts.isNamedImports(named) && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly)) continue;
      spec = (st.moduleSpecifier as ts.StringLiteral).text;
    } else if (ts.isExportDeclaration(st) && st.moduleSpecifier && !st.isTypeOnly) {
      spec = (st.moduleSpecifier as ts.StringLiteral).text;
    }
    const target = spec ? resolveImport(file, spec) : null;
    if (target) out.push(target);
  }
  return out;
}

const GRAPH = new Map(FILES.map((f) => [f, runtimeImports(f)]));

/** Strongly connected components with more than one member (Tarjan). */
function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1) out.push(comp.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

describe('the import graph of src/', () => {
  test('noImportCycleBetweenFiles', () => {
    expect(cycles(GRAPH).map((c) => c.map(rel).join(' -> '))).toEqual([]);
  });

  test('noImportCycleBetweenFolders', () => {
    const folders = new Map<string, Set<string>>();
    const why = new Map<string, string>();
    for (const [f, targets] of GRAPH)
      for (const t of targets) {
        const a = folderOf(f);
        const b = folderOf(t);
        if (a === b) continue;
        if (!folders.has(a)) folders.set(a, new Set());
        folders.get(a)!.add(b);
        why.set(`${a}->${b}`, `${rel(f)} imports ${rel(t)}`);
      }
    const g = new Map([...folders].map(([k, v]) => [k, [...v]]));
    const found = cycles(g).map(
      (c) => `${c.join(', ')}: ${c.flatMap((a) => c.filter((b) => why.has(`${a}->${b}`)).map((b) => why.get(`${a}->${b}`))).join('; ')}`,
    );
    expect(found).toEqual([]);
  });

  test('allSqlLivesInTheStore', () => {
    const outside = FILES.filter((f) => folderOf(f) !== 'store').flatMap((f) =>
      fs
        .readFileSync(f, 'utf8')
        .split('\n')
        .map((line, i) => ({ line, at: `${rel(f)}:${i + 1}` }))
        .filter(({ line }) => /\.prepare\(|\b(db|database|connection)\.(exec|pragma)\(/.test(line))
        .map(({ at }) => at),
    );
    expect(outside).toEqual([]);
  });

  test('noSourceFileOverFiveHundredLinesWithoutAReasonInItsHeader', () => {
    const long = FILES.filter((f) => {
      const text = fs.readFileSync(f, 'utf8');
      const header = text.slice(0, text.indexOf('*/') + 2);
      return text.split('\n').length > 500 && !/longer than 500 lines|over 500 lines/i.test(header);
    }).map(rel);
    expect(long).toEqual([]);
  });

  test('theProcessorNamesTheStagesInOrder', () => {
    const text = fs.readFileSync(path.join(SRC, 'pipeline', 'processor.ts'), 'utf8');
    const body = text.slice(text.indexOf('export function processMail'));
    const order = ['maskMail(', 'gatherFacts(', 'classify(', 'fileMail(', 'actOnMail('].map((s) => body.indexOf(s));
    expect(order.every((i) => i > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });
});
