// Time from navigation start to a payment form a shopper can use, in headless Chromium: the
// checkout island hydrated and the Payment Element mounted (no intent is needed for that), so
// the pay button is enabled. Prints the median and the slowest of the runs; asserts nothing.
//
// Usage: node bench/interactive.mjs <shop base URL> [runs, default 15]
// Run from anywhere; Playwright comes from end2end/node_modules.
import { launchChromium } from './chromium.mjs';

const base = process.argv[2];
const runs = Number(process.argv[3] || 15);
if (!base) {
  console.error('usage: node bench/interactive.mjs <base URL> [runs]');
  process.exit(2);
}

const browser = await launchChromium();

async function once(cached) {
  // A fresh context has an empty HTTP cache and no checkout cookie: a first visit. A second
  // page in the same context shows a returning shopper (wasm and Stripe.js from cache).
  const context = await browser.newContext();
  const page = await context.newPage();
  if (cached) await usableForm(page);
  const ms = await usableForm(page);
  await context.close();
  return ms;
}

// Opens the product page and returns the time from navigation to the enabled pay button.
async function usableForm(page) {
  await page.goto(`${base}/products/tokyo-night-presets`);
  await page.waitForFunction(() => {
    const pay = document.querySelector('form.checkout button.pay');
    return pay !== null && !pay.disabled;
  }, null, { polling: 'raf', timeout: 30_000 });
  return page.evaluate(() => performance.now());
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
