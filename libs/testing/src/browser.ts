import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/**
 * Debian's Chromium, headless, for page tests (playwright-core cannot download browsers here).
 * AVIARY_TEST_CHROMIUM overrides the path; npm test installs it with scripts/services/chromium.sh.
 */
export async function launchChromium(): Promise<Browser> {
  const executablePath = process.env['AVIARY_TEST_CHROMIUM'] ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) {
    throw new Error(
      `Chromium not found at ${executablePath}: run \`bash scripts/services/chromium.sh\` (npm test does) or set AVIARY_TEST_CHROMIUM`,
    );
  }
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}
