/**
 * No import circles in src/: the graph of relative `import … from` / `export … from` statements
 * (type-only ones included: a circle of types is a circle of design) must have no cycle. Pure:
 * parses the sources, starts nothing.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Circles tolerated for now; each entry is the exact set of files of one circle. An entry that no
 * longer matches a circle fails the test, so it is dropped once fixed. None today.
 */
const KNOWN_CIRCLES: string[][] = [];

type Graph = Map<string, Set<string>>;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** Relative specifiers of a module's static imports and re-exports. */
function relativeImports(fileName: string, text: string): string[] {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const out: string[] = [];
  for (const st of sf.statements) {
    if (!ts.isImportDeclaration(st) && !ts.isExportDeclaration(st)) continue;
    const spec = st.moduleSpecifier;
    if (spec && ts.isStringLiteral(spec) && spec.text.startsWith('.')) out.push(spec.text);
  }
  return out;
}

function importGraph(dir: string): Graph {
  const g: Graph = new Map();
  for (const f of sourceFiles(dir)) {
    const from = relative(root, f);
    const deps = new Set<string>();
    for (const s of relativeImports(f, readFileSync(f, 'utf8')))
      deps.add(relative(root, resolve(dirname(f), s)));
    g.set(from, deps);
  }
  return g;
}

/** Strongly connected components with a cycle (two or more modules, or one importing itself). */
function circles(g: Graph): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of g.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const scc: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      scc.push(w);
    } while (w !== v);
    if (scc.length > 1 || g.get(v)?.has(v)) out.push(scc.sort());
  };
  for (const v of [...g.keys()].sort()) if (!index.has(v)) visit(v);
  return out.sort((a, b) => a[0]!.localeCompare(b[0]!));
}

/** One import path that closes the circle, for the message: a → b → … → a. */
function example(g: Graph, scc: string[]): string {
  const inside = new Set(scc);
  const start = scc[0]!;
  const prev = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of g.get(v) ?? []) {
      if (!inside.has(w)) continue;
      if (w === start) {
        const path: string[] = [];
        for (let x: string | undefined = v; x !== undefined && x !== start; x = prev.get(x)) path.unshift(x);
        return [start, ...path, start].join(' → ');
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return scc.join(', ');
}

const key = (files: string[]) => [...files].sort().join('\n');

describe('import graph', () => {
  test('the cycle finder finds circles, self-imports included, and passes a tree', () => {
    const g: Graph = new Map([
      ['a', new Set(['b'])],
      ['b', new Set(['c'])],
      ['c', new Set(['a', 'd'])],
      ['d', new Set<string>()],
      ['e', new Set(['e'])],
    ]);
    assert.deepEqual(circles(g), [['a', 'b', 'c'], ['e']]);
    assert.equal(example(g, ['a', 'b', 'c']), 'a → b → c → a');
    assert.deepEqual(circles(new Map([['a', new Set(['b'])]])), []);
    assert.deepEqual(
      relativeImports(
        'x.ts',
        "import type { A } from './a.ts';\nexport { b } from '../b.ts';\nimport x from 'node:fs';\n// import { c } from './c.ts';\nconst s = \"import d from './d.ts'\";",
      ),
      ['./a.ts', '../b.ts'],
    );
  });

  test('src/ has no import circle (beyond the known ones being removed)', () => {
    const g = importGraph(join(root, 'src'));
    assert.ok(g.size > 50, 'the source tree was found');
    const found = circles(g);
    const known = new Set(KNOWN_CIRCLES.map(key));
    const unexpected = found.filter((c) => !known.has(key(c)));
    assert.deepEqual(
      unexpected.map((c) => example(g, c)),
      [],
      `import circles in src/:\n${unexpected.map((c) => `  ${example(g, c)}\n    (${c.join(', ')})`).join('\n')}`,
    );
    const present = new Set(found.map(key));
    const stale = KNOWN_CIRCLES.filter((c) => !present.has(key(c)));
    assert.deepEqual(stale, [], 'a known circle is gone: drop it from KNOWN_CIRCLES');
  });
});
