/**
 * Debian's Chromium (`/usr/bin/chromium`, installed by scripts/test-deps.sh) driven by
 * playwright-core for the viewer's browser tests; playwright never downloads a browser here.
 * Screenshots go to a temporary directory, or to `TRACEBOUND_SCREENSHOTS` when it is set (the
 * README's pictures are made with `TRACEBOUND_SCREENSHOTS=docs`).
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/test-deps.sh (apt-get install chromium)`);
  // --no-sandbox: the tests run as root in CI, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
}

/** Where screenshots go: `TRACEBOUND_SCREENSHOTS` (made if missing), else a new temporary directory. */
export async function screenshotDir(): Promise<string> {
  const wanted = process.env.TRACEBOUND_SCREENSHOTS;
  if (wanted) {
    const dir = resolve(wanted);
    await mkdir(dir, { recursive: true });
    return dir;
  }
  return mkdtemp(join(tmpdir(), 'tracebound-view-shots-'));
}

/** Fails the test on any error the page throws or logs (a broken bundle, a failed fetch). */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  return errors;
}
