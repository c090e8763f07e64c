/**
 * The configuration examples in examples/config/ load with the real loaders, exactly as the
 * processes would read them: an unknown key, a wrong type or a bad duration fails here.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  loadAgentConfig,
  loadEmbeddedConfig,
  loadManagerConfig,
  loadWorkerConfig,
} from '../../../src/config/load.ts';

const dir = fileURLToPath(new URL('../../../examples/config/', import.meta.url));

/** Which loader reads which example (the process that takes the file). */
const LOADERS: Record<string, (src: { file: string; env: NodeJS.ProcessEnv }) => unknown> = {
  'manager.json': loadManagerConfig,
  'worker.json': loadWorkerConfig,
  'agent.json': loadAgentConfig,
  'embedded.json': loadEmbeddedConfig,
};

const examples = readdirSync(dir).filter((f) => f.endsWith('.json'));

test('every example has a loader and is described in the README', () => {
  assert.deepEqual([...examples].sort(), Object.keys(LOADERS).sort());
  const readme = readFileSync(`${dir}README.md`, 'utf8');
  for (const f of examples) assert.ok(readme.includes(`\`${f}\``), `README.md describes ${f}`);
});

for (const f of examples) {
  test(`examples/config/${f} loads with the process's config loader`, () => {
    const load = LOADERS[f];
    assert.ok(load, `no loader for ${f}`);
    // No environment: what the file says is what is checked.
    assert.doesNotThrow(() => load({ file: `${dir}${f}`, env: {} }));
  });

  test(`examples/config/${f} names secrets by file, never inline`, () => {
    const inline: string[] = [];
    const walk = (v: unknown, path: string): void => {
      if (!v || typeof v !== 'object') return;
      for (const [k, x] of Object.entries(v)) {
        const secretName = /password|secret|token(?!Ttl)|privateKey/i.test(k);
        if (!Array.isArray(v) && secretName && !k.endsWith('File')) inline.push(`${path}/${k}`);
        walk(x, `${path}/${k}`);
      }
    };
    walk(JSON.parse(readFileSync(`${dir}${f}`, 'utf8')), '');
    assert.deepEqual(inline, []);
  });
}
