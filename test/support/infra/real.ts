/**
 * For the tests on real stores (`test/contract/*.real.test.ts` and others): starts a real server once per
 * test file, or registers one failing test that says why it could not (e.g. which package to install).
 * Real-store tests are skipped only when `APPPROXY_SKIP_REAL_STORES=1` — never silently because a binary is
 * missing.
 */
import { after, it } from 'node:test';
import { type ServerHandle, skipRealStores } from './servers.ts';

export async function useRealServer<H extends ServerHandle>(
  label: string,
  start: () => Promise<H>,
): Promise<H | undefined> {
  if (skipRealStores) {
    it(`real ${label} tests`, { skip: 'APPPROXY_SKIP_REAL_STORES=1' }, () => {});
    return undefined;
  }
  let handle: H;
  try {
    handle = await start();
  } catch (err) {
    it(`starts a real ${label} server`, () => {
      throw err;
    });
    return undefined;
  }
  after(() => handle.dispose());
  return handle;
}
