// Time from navigation start to a payment form a shopper can use, in headless Chromium.
// "Usable" means the pay button is enabled: the island hydrated, checkout answered and the
// Payment Element mounted. Prints the median and the slowest of the runs; asserts nothing.
//
// Usage: node bench/interactive.mjs <shop base URL> [runs, default 15]
// Run from anywhere; Playwright comes from end2end/node_modules.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', 'end2end', 'package.json'));
const { chromium } = require('@playwright/test');

const base = process.argv[2];
const runs = Number(process.argv[3] || 15);
if (!base) {
  console.error('usage: node bench/interactive.mjs <base URL> [runs]');
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});

async function once(cached) {
  // A fresh context has an empty HTTP cache and no checkout cookie: a first visit. A second
  // page in the same context shows a returning shopper (wasm and Stripe.js from cache).
  const context = await browser.newContext();
  const page = await context.newPage();
  if (cached) {
    await page.goto(`${base}/products/tokyo-night-presets`);
    await page.waitForFunction(() => !document.querySelector('button.pay')?.disabled);
  }
  await page.goto(`${base}/products/tokyo-night-presets`);
  await page.waitForFunction(() => !document.querySelector('button.pay')?.disabled, null, {
    polling: 'raf',
    timeout: 10_000,
  });
  const ms = await page.evaluate(() => performance.now());
  await context.close();
  return ms;
}

function summary(label, times) {
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  const worst = sorted[sorted.length - 1];
  console.log(`${label}: median ${median.toFixed(0)} ms, slowest ${worst.toFixed(0)} ms over ${times.length} loads`);
}

await once(false); // warm the server and the OS caches
for (const cached of [false, true]) {
  const times = [];
  for (let i = 0; i < runs; i++) times.push(await once(cached));
  summary(cached ? 'page load to usable payment form, returning shopper' : 'page load to usable payment form, first visit', times);
}
await browser.close();
