/**
 * Debian's chromium for end-to-end tests, driven by playwright-core (which never downloads a
 * browser): headless, without the background traffic that this machine's closed network refuses.
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** `skip` for describe(): false when chromium is installed, else the reason. */
export const skipWithoutChromium: false | string = existsSync(CHROMIUM)
  ? false
  : 'chromium is not installed (apt-get install chromium)';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
      '--no-first-run',
    ],
  });
}
