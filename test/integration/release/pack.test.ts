/**
 * What the npm package holds (`npm pack --dry-run --json`, which builds nothing and writes
 * nothing): everything the processes read at run time — the CLI entry, the sources with the SQL
 * migrations and the bundled apps, the built web console, the docs — and nothing else: no tests,
 * benchmarks, fixtures, CI files or anything that looks like a secret.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { hasChangelogSection, isSemver } from '../../../scripts/release.ts';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  private?: boolean;
  files?: string[];
  bin?: Record<string, string>;
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
};

let packed: Set<string>;

before(() => {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  assert.equal(r.status, 0, `npm pack --dry-run failed: ${r.stderr}`);
  const [info] = JSON.parse(r.stdout) as { files: { path: string }[] }[];
  packed = new Set(info!.files.map((f) => f.path));
});

/** Files under a folder of the checkout, relative to the root. */
function filesUnder(dir: string): string[] {
  const abs = join(root, dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)));
}

const FORBIDDEN: [RegExp, string][] = [
  [/(^|\/)test\//, 'a test folder'],
  [/\.test\.[cm]?[jt]s$/, 'a test file'],
  [/^bench\//, 'the benchmark'],
  [/(^|\/)fixtures?(\/|$)/, 'a fixture'],
  [/(^|\/)\.ci\//, 'CI files'],
  [/(^|\/)\.github\//, 'GitHub files'],
  [/\.pem$/, 'a PEM file'],
  [/\.key$/, 'a key file'],
  [/\.jwk$/, 'a JWK (the setup-token key)'],
  [/(^|\/)\.env/, 'an .env file'],
  [/(^|\/)admin-token$/, 'an admin token'],
  [/(^|\/)cookie-secret$/, 'a cookie secret'],
  [/(^|\/)credentials\.json$/, 'CLI credentials'],
  [/(^|\/)\.appproxy[^/]*\//, 'a data folder'],
  [/(^|\/)node_modules\//, 'dependencies'],
];

test('the package holds no test, bench, fixture, CI or secret-looking file', () => {
  const bad: string[] = [];
  for (const p of packed) for (const [re, what] of FORBIDDEN) if (re.test(p)) bad.push(`${p} (${what})`);
  assert.deepEqual(bad, []);
});

test('the package holds what the processes read at run time', () => {
  const missing = (paths: string[]) => paths.filter((p) => !packed.has(p));
  // The CLI entry and the metadata npm always ships.
  assert.deepEqual(missing(['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'SECURITY.md']), []);
  assert.deepEqual(missing(Object.values(pkg.bin ?? {}).map((p) => p.replace(/^\.\//, ''))), []);
  // Every source file (run through tsx), including the SQL migrations (read from disk when the
  // store opens) and the bundled apps the built-in templates start.
  const sources = filesUnder('src').filter((p) => !/\.test\.[cm]?[jt]s$/.test(p));
  assert.ok(sources.some((p) => /^src\/stores\/sql\/migrations\/\d{3}_.+\.sql$/.test(p)));
  assert.ok(sources.some((p) => p.startsWith('src/agent/apps/')));
  assert.deepEqual(missing(sources), []);
  // The generated references operators read.
  assert.deepEqual(missing(filesUnder('docs').filter((p) => p.endsWith('.md'))), []);
  assert.deepEqual(missing(filesUnder('examples/config')), []);
});

test('the built web console is shipped (the manager serves console/dist)', () => {
  assert.ok(pkg.files?.includes('console/dist/'), 'package.json "files" lists console/dist/');
  const built = filesUnder('console/dist').filter((p) => !p.split('/').pop()!.startsWith('.'));
  // A checkout where the console was never built ships none; `npm run release` builds it first.
  if (built.length === 0) return;
  assert.ok(built.includes('console/dist/index.html'));
  assert.deepEqual(
    built.filter((p) => !packed.has(p)),
    [],
  );
  assert.ok(![...packed].some((p) => p.startsWith('console/') && !p.startsWith('console/dist/')));
});

test('package.json is publishable and its version has a CHANGELOG.md section', () => {
  assert.notEqual(pkg.private, true, 'a private package cannot be published');
  assert.ok(Array.isArray(pkg.files) && pkg.files.length > 0, 'an allow-list of files');
  assert.equal(pkg.scripts?.release, 'node --import tsx scripts/release.ts');
  assert.ok(isSemver(pkg.version), `${pkg.version} is a semantic version`);
  const changelog = readFileSync(join(root, 'CHANGELOG.md'), 'utf8');
  assert.ok(hasChangelogSection(changelog, pkg.version), `CHANGELOG.md has "## [${pkg.version}]"`);
});

test('the release checks', () => {
  for (const v of ['0.1.0', '1.0.0-rc.1', '2.3.4+build.5']) assert.ok(isSemver(v), v);
  for (const v of ['1.0', 'v1.0.0', '01.0.0', '1.0.0-']) assert.ok(!isSemver(v), v);
  const log = '# Changelog\n\n## [Unreleased]\n\n## [0.2.0] - 2030-01-01\n\n## [0.1.0]\n';
  assert.ok(hasChangelogSection(log, '0.2.0'));
  assert.ok(hasChangelogSection(log, '0.1.0'));
  assert.ok(!hasChangelogSection(log, '0.1.1'));
  assert.ok(!hasChangelogSection('## [0x1x0]\n', '0.1.0'), 'dots are literal');
});

test('what bin/appproxy.js imports at run time is a dependency, not a devDependency', () => {
  const bin = readFileSync(join(root, 'bin/appproxy.js'), 'utf8');
  for (const m of bin.matchAll(/import\('([^.][^']*)'\)/g)) {
    const name = m[1]!.startsWith('@') ? m[1]!.split('/').slice(0, 2).join('/') : m[1]!.split('/')[0]!;
    if (name.startsWith('node:')) continue;
    assert.ok(pkg.dependencies?.[name], `${name} must be in dependencies`);
  }
});
