import { defineConfig } from '@playwright/test';

// Browser tests drive Debian's Chromium (/usr/bin/chromium); Playwright's own browser
// builds are never downloaded (install with PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1).
// No web server is started here: each spec starts the servers it needs.
// Two projects: the shop's specs here, and the Stripe stand-in's own spec, which lives with
// its crate (`stripe-standin/browser/`) and shares this project's Playwright install. A third,
// `screenshots`, exists only when SCREENSHOTS is set (see scripts/screenshots.sh).
export default defineConfig({
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  retries: 0,
  workers: process.env.CI ? 1 : undefined,
  reporter: 'list',
  use: {
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  projects: [
    {
      name: 'shop',
      testDir: './tests',
      use: { browserName: 'chromium' },
    },
    {
      name: 'stripe-standin',
      testDir: '../stripe-standin/browser',
      use: { browserName: 'chromium' },
    },
    // Screenshots for people to look at (scripts/screenshots.sh), never part of the test run.
    ...(process.env.SCREENSHOTS
      ? [{ name: 'screenshots', testDir: './screenshots', use: { browserName: 'chromium' as const } }]
      : []),
  ],
});
