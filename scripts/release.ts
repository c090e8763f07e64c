/**
 * Builds the release tarball: `npm run release` (or `npm run release -- --dry-run`).
 *
 *   1. the working tree is clean (`git status --porcelain`; the output folder `dist/` aside);
 *   2. the version in package.json is a semantic version (https://semver.org);
 *   3. CHANGELOG.md has a `## [x.y.z]` section for it;
 *   4. the web console is built (`scripts/console.ts build`: checks its API types, then builds
 *      console/dist, which the manager serves and the package ships);
 *   5. `npm pack` writes the tarball into `dist/`; its name and size are printed.
 *
 * `--dry-run` runs the checks (1–3) and prints what steps 4 and 5 would do, without doing them;
 * it exits 1 when a check fails, like a real run. Publishing (`npm publish dist/<tarball>`) is
 * left to the person releasing.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = 'dist';

/** Semantic Versioning 2.0.0 (the regular expression semver.org gives). */
const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

export function isSemver(version: string): boolean {
  return SEMVER.test(version);
}

/** Whether CHANGELOG.md (Keep a Changelog) has a `## [version]` section, optionally dated. */
export function hasChangelogSection(changelog: string, version: string): boolean {
  const escaped = version.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^## \\[${escaped}\\](?:\\s.*)?$`, 'm').test(changelog);
}

/** Paths `git status --porcelain` reports, except the release output folder. */
export function dirtyPaths(porcelain: string): string[] {
  return porcelain
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.slice(3))
    .filter((p) => p !== `${DIST}/` && !p.startsWith(`${DIST}/`));
}

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
}

function run(cmd: string, args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  return { status: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

interface Check {
  what: string;
  ok: boolean;
  detail: string;
}

function checks(pkg: { name: string; version: string }): Check[] {
  const out: Check[] = [];
  const git = run('git', ['status', '--porcelain']);
  const dirty = git.status === 0 ? dirtyPaths(git.stdout) : [];
  out.push({
    what: 'the working tree is clean',
    ok: git.status === 0 && dirty.length === 0,
    detail:
      git.status !== 0
        ? `git status failed: ${git.stderr.trim()}`
        : dirty.length === 0
          ? 'nothing to commit'
          : `uncommitted: ${dirty.slice(0, 10).join(', ')}${dirty.length > 10 ? ` and ${dirty.length - 10} more` : ''}`,
  });
  out.push({
    what: `the version ${pkg.version} is a semantic version`,
    ok: isSemver(pkg.version),
    detail: isSemver(pkg.version) ? 'MAJOR.MINOR.PATCH' : 'see https://semver.org',
  });
  const changelog = readFileSync(join(ROOT, 'CHANGELOG.md'), 'utf8');
  const section = hasChangelogSection(changelog, pkg.version);
  out.push({
    what: `CHANGELOG.md has a "## [${pkg.version}]" section`,
    ok: section,
    detail: section ? 'found' : 'move the entries of [Unreleased] under a new section for this version',
  });
  return out;
}

async function main(argv: string[]): Promise<number> {
  const dryRun = argv.includes('--dry-run');
  const unknown = argv.filter((a) => a !== '--dry-run');
  if (unknown.length > 0) {
    console.error(`usage: scripts/release.ts [--dry-run]  (unknown: ${unknown.join(' ')})`);
    return 2;
  }
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    name: string;
    version: string;
  };
  console.log(`release of ${pkg.name} ${pkg.version}${dryRun ? ' (dry run: nothing is built)' : ''}`);
  const results = checks(pkg);
  for (const c of results) console.log(`  ${c.ok ? '✓' : '✗'} ${c.what} — ${c.detail}`);
  const failed = results.filter((c) => !c.ok);

  const tarball = `${pkg.name}-${pkg.version}.tgz`;
  if (dryRun) {
    console.log('would run:');
    console.log('  node --import tsx scripts/console.ts build   (checks the API types, builds console/dist)');
    console.log(`  npm pack --pack-destination ${DIST}          (writes ${DIST}/${tarball})`);
    if (failed.length > 0) console.log(`a real run would stop: ${failed.length} check(s) failed`);
    return failed.length > 0 ? 1 : 0;
  }
  if (failed.length > 0) {
    console.error(`stopped: ${failed.length} check(s) failed`);
    return 1;
  }

  console.log('building the web console…');
  const build = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/console.ts', 'build'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  if (build.status !== 0) {
    console.error('stopped: the console build failed');
    return 1;
  }

  mkdirSync(join(ROOT, DIST), { recursive: true });
  const pack = run('npm', ['pack', '--json', '--pack-destination', DIST]);
  if (pack.status !== 0) {
    console.error(`stopped: npm pack failed\n${pack.stderr}`);
    return 1;
  }
  const [info] = JSON.parse(pack.stdout) as { filename: string; size: number; entryCount: number }[];
  if (!info) throw new Error('npm pack answered no package');
  console.log(`${DIST}/${info.filename}  ${formatSize(info.size)} (${info.entryCount} files)`);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = await main(process.argv.slice(2));
}
