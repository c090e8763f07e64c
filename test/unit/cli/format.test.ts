import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  colorEnabled,
  flatten,
  formatAge,
  formatKeyValues,
  formatTable,
  formatTime,
  painter,
  paintState,
  visibleLength,
} from '../../../src/cli/format.ts';
import { formatBytes } from '../../../src/cli/tunnel.ts';

describe('formatTable', () => {
  it('aligns columns by the widest cell, two spaces apart, without trailing spaces', () => {
    const out = formatTable(
      [{ header: 'NAME' }, { header: 'STATE' }, { header: 'AGE', align: 'right' }],
      [
        ['demo-1a2b', 'RUNNING', '5m'],
        ['x', 'PENDING', '12s'],
      ],
    );
    assert.equal(
      out,
      ['NAME       STATE    AGE', 'demo-1a2b  RUNNING   5m', 'x          PENDING  12s', ''].join('\n'),
    );
  });

  it('truncates cells to maxWidth with an ellipsis', () => {
    const out = formatTable([{ header: 'D', maxWidth: 5 }, { header: 'E' }], [['abcdefgh', 'z']]);
    assert.equal(out, 'D      E\nabcd…  z\n');
  });

  it('prints only the header for no rows and tolerates short rows', () => {
    assert.equal(formatTable([{ header: 'A' }, { header: 'B' }], []), 'A  B\n');
    assert.equal(formatTable([{ header: 'A' }, { header: 'B' }], [['1']]), 'A  B\n1\n');
  });

  it('measures widths without colour escapes', () => {
    const p = painter(true);
    const out = formatTable([{ header: 'STATE' }, { header: 'X' }], [[paintState('RUNNING', p), 'y']], p);
    const lines = out.split('\n');
    assert.ok(lines[0]!.includes('\x1b[1mSTATE\x1b[22m'), JSON.stringify(lines[0]));
    assert.equal(visibleLength(lines[1]!), 'RUNNING  y'.length);
    assert.equal(lines[1], '\x1b[32mRUNNING\x1b[39m  y');
  });
});

describe('colour', () => {
  it('is on only for a TTY without NO_COLOR', () => {
    assert.equal(colorEnabled({ isTTY: true }, {}), true);
    assert.equal(colorEnabled({ isTTY: false }, {}), false);
    assert.equal(colorEnabled({}, {}), false);
    assert.equal(colorEnabled({ isTTY: true }, { NO_COLOR: '1' }), false);
    assert.equal(colorEnabled({ isTTY: true }, { NO_COLOR: '' }), true);
    assert.equal(colorEnabled({ isTTY: true }, { TERM: 'dumb' }), false);
  });

  it('a disabled painter leaves text alone', () => {
    assert.equal(painter(false).paint('x', 'red'), 'x');
    assert.equal(paintState('ERROR', painter(false)), 'ERROR');
  });
});

describe('key/values, ages, flatten', () => {
  it('aligns labels', () => {
    assert.equal(
      formatKeyValues([
        ['ID', 'a'],
        ['Template', 'b'],
        ['X', ''],
      ]),
      'ID        a\nTemplate  b\nX\n',
    );
  });

  it('renders ages and times', () => {
    const now = Date.parse('2025-01-01T01:00:00Z');
    assert.equal(formatAge('2025-01-01T00:59:48Z', now), '12s');
    assert.equal(formatAge('2025-01-01T00:55:00Z', now), '5m');
    assert.equal(formatAge('2024-12-31T22:00:00Z', now), '3h');
    assert.equal(formatAge('2024-12-29T01:00:00Z', now), '3d');
    assert.equal(formatAge(null, now), '-');
    assert.equal(formatAge('not a date', now), 'not a date');
    assert.equal(formatTime('2025-01-01T00:55:00Z', now), '2025-01-01T00:55:00Z (5m ago)');
    assert.equal(formatTime('2025-01-01T01:10:00Z', now), '2025-01-01T01:10:00Z (in 10m)');
    assert.equal(formatTime(null, now), '-');
  });

  it('flattens nested JSON to dotted keys', () => {
    assert.deepEqual(flatten({ a: 1, b: { c: 'x', d: null }, e: [1, 2], f: [{ g: true }], h: {}, i: [] }), [
      ['a', '1'],
      ['b.c', 'x'],
      ['b.d', '-'],
      ['e', '1, 2'],
      ['f[0].g', 'true'],
      ['h', '{}'],
      ['i', '[]'],
    ]);
  });

  it('formats byte counts (the tunnel summary)', () => {
    assert.equal(formatBytes(0), '0 B');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatBytes(100 * 1024 * 1024), '100.0 MiB');
  });
});
