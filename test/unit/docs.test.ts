import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { renderConfigDoc, renderErrorsDoc } from '../../scripts/gen-docs.ts';
import { ERRORS } from '../../src/contracts/errors.ts';

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
