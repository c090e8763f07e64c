import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  managerOpenApiDocument,
  renderApiReference,
  renderConfigDoc,
  renderErrorsDoc,
  renderTroubleshootingDoc,
  TROUBLESHOOTING,
} from '../../scripts/gen-docs.ts';
import { ERRORS, type ErrorCode } from '../../src/contracts/errors.ts';

const read = (p: string) => readFileSync(new URL(`../../${p}`, import.meta.url), 'utf8');

test('docs/errors.md matches the error registry (run `npm run docs` after changing codes)', () => {
  const doc = read('docs/errors.md');
  for (const [code, e] of Object.entries(ERRORS)) {
    assert.match(
      doc,
      new RegExp(`\\| \`${code}\` \\| ${e.status} \\|`),
      `${code} is missing or has the wrong status`,
    );
  }
  assert.equal(doc, renderErrorsDoc());
});

test('docs/configuration.md matches the config schema (run `npm run docs`)', () => {
  assert.equal(read('docs/configuration.md'), renderConfigDoc());
});

test('every error code has causes and fixes in scripts/gen-docs.ts (TROUBLESHOOTING)', () => {
  const missing = Object.keys(ERRORS).filter((c) => !TROUBLESHOOTING[c as ErrorCode]);
  assert.deepEqual(missing, [], `no troubleshooting entry for ${missing.join(', ')}`);
  for (const [code, t] of Object.entries(TROUBLESHOOTING)) {
    assert.ok(t.seen && t.causes.length > 0 && t.fixes.length > 0, `${code}: seen, causes and fixes`);
  }
  // The generator refuses a registry code without an entry, and an entry without a code.
  const { AP_ERR_NO_SLOT: _dropped, ...withoutOne } = TROUBLESHOOTING;
  assert.throws(() => renderTroubleshootingDoc(withoutOne), /no causes and fixes for AP_ERR_NO_SLOT/);
  const extra = { ...TROUBLESHOOTING, AP_ERR_NOT_A_CODE: TROUBLESHOOTING.AP_ERR_INTERNAL };
  assert.throws(() => renderTroubleshootingDoc(extra), /AP_ERR_NOT_A_CODE/);
});

test('docs/troubleshooting.md matches the registry and its causes (run `npm run docs`)', () => {
  const doc = read('docs/troubleshooting.md');
  for (const code of Object.keys(ERRORS)) assert.match(doc, new RegExp(`^### ${code}$`, 'm'), code);
  assert.equal(doc, renderTroubleshootingDoc());
});

test("docs/api-reference.md matches the manager's /openapi.json (run `npm run docs`)", async () => {
  const openapi = await managerOpenApiDocument();
  const doc = read('docs/api-reference.md');
  for (const [path, methods] of Object.entries(openapi.paths)) {
    for (const method of Object.keys(methods)) {
      const heading = `### ${method.toUpperCase()} ${path}`;
      assert.ok(doc.includes(`\n${heading}\n`), `${heading} is missing`);
    }
  }
  assert.equal(doc, renderApiReference(openapi));
});

test('docs/api.md links to the generated reference', () => {
  assert.match(read('docs/api.md'), /\]\(api-reference\.md\)/);
});

/** Every metric the code registers (`appproxy_*`, `gen_ai_*` string literals in src/). */
function registeredMetrics(): Set<string> {
  const out = new Set<string>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(new URL(`../../${dir}`, import.meta.url), { withFileTypes: true })) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts'))
        for (const m of read(p).matchAll(/'((?:appproxy|gen_ai)_[a-z0-9_]+)'/g)) out.add(m[1]!);
    }
  };
  walk('src');
  return out;
}

test('docs/operations.md names only metrics the code registers', () => {
  const known = registeredMetrics();
  const doc = read('docs/operations.md');
  const named = new Set(
    [...doc.matchAll(/\b((?:appproxy|gen_ai)_[a-z0-9_]+)/g)]
      .map((m) => m[1]!.replace(/_(bucket|sum|count)$/, ''))
      // Prefixes (`appproxy_worker_*`) and cookie names are not metrics.
      .filter((n) => !n.endsWith('_') && !/^appproxy_(login|oidc|permit)/.test(n)),
  );
  assert.ok(named.size >= 10, 'operations.md discusses the metrics');
  const unknown = [...named].filter((n) => !known.has(n));
  assert.deepEqual(unknown, [], `not registered anywhere in src/: ${unknown.join(', ')}`);
});

test('relative links between the operator docs point at files and headings that exist', () => {
  const slug = (h: string) =>
    h
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replace(/ /g, '-');
  const headings = (file: string) =>
    new Set([...read(file).matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!.trim())));
  const sources = [
    'docs/operations.md',
    'docs/security.md',
    'docs/troubleshooting.md',
    'docs/api-reference.md',
    'examples/config/README.md',
  ];
  const problems: string[] = [];
  for (const src of sources) {
    const dir = src.slice(0, src.lastIndexOf('/') + 1);
    for (const m of read(src).matchAll(/\]\(([^)\s]+)\)/g)) {
      const link = m[1]!;
      if (/^[a-z]+:/.test(link)) continue;
      const [file, anchor] = link.split('#') as [string, string | undefined];
      const target = file === '' ? src : new URL(file, `file:///${dir}`).pathname.slice(1);
      if (!existsSync(new URL(`../../${target}`, import.meta.url))) {
        problems.push(`${src}: ${link} (no such file)`);
        continue;
      }
      if (anchor && target.endsWith('.md') && !headings(target).has(anchor))
        problems.push(`${src}: ${link} (no such heading)`);
    }
  }
  assert.deepEqual(problems, []);
});
