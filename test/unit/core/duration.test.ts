import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDuration, parseDuration } from '../../../src/core/duration.ts';

describe('parseDuration', () => {
  it('parses the documented forms', () => {
    assert.equal(parseDuration('30s'), 30_000);
    assert.equal(parseDuration('2m'), 120_000);
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('1h'), 3_600_000);
    assert.equal(parseDuration('1d'), 86_400_000);
  });

  it('accepts decimals, sums, surrounding space and zero', () => {
    assert.equal(parseDuration('1.5s'), 1500);
    assert.equal(parseDuration('.5s'), 500);
    assert.equal(parseDuration('1m30s'), 90_000);
    assert.equal(parseDuration('1h2m3s4ms'), 3_723_004);
    assert.equal(parseDuration(' 10s '), 10_000);
    assert.equal(parseDuration('0'), 0);
    assert.equal(parseDuration('0s'), 0);
  });

  it('refuses bare numbers, unknown units and garbage with a readable message', () => {
    assert.throws(() => parseDuration('30'), /no unit.*30s/);
    assert.throws(() => parseDuration(''), /empty duration/);
    assert.throws(() => parseDuration('5x'), /invalid duration "5x"/);
    assert.throws(() => parseDuration('s'), /invalid duration/);
    assert.throws(() => parseDuration('-5s'), /invalid duration/);
    assert.throws(() => parseDuration('5 s'), /invalid duration/);
    assert.throws(() => parseDuration('5sec'), /invalid duration/);
  });
});

describe('formatDuration', () => {
  it('renders compactly', () => {
    assert.equal(formatDuration(850), '850ms');
    assert.equal(formatDuration(3000), '3s');
    assert.equal(formatDuration(3999), '3s');
    assert.equal(formatDuration(120_000), '2m');
    assert.equal(formatDuration(125_000), '2m05s');
    assert.equal(formatDuration(3_720_000), '1h02m');
    assert.equal(formatDuration(7_200_000), '2h');
  });

  it('round-trips what it renders', () => {
    for (const ms of [500, 3000, 125_000, 7_200_000]) assert.equal(parseDuration(formatDuration(ms)), ms);
  });
});
