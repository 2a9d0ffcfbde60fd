// A first visit on a slow phone: Chromium with its CPU slowed 4x and its network shaped through
// the DevTools protocol, timed from navigation to a payment form the shopper can use: the island
// hydrated and the Payment Element mounted, so the pay button is enabled (no intent is made
// until the shopper pays). Prints the median and slowest over the runs, and where the median
// run's time went, from the browser's own timings; asserts nothing.
//
// The network is Lighthouse's mobile profile, which DevTools calls "Fast 3G": 562.5 ms per
// request, 1.44 Mbit/s down, 675 kbit/s up (Lighthouse's 150 ms round trip and 1.6 Mbit/s,
// with DevTools' factors for request-level shaping).
//
// Usage: node bench/slow-phone.mjs <shop base URL> [runs, default 7]
import { launchChromium } from './chromium.mjs';

const base = process.argv[2];
const runs = Number(process.argv[3] || 7);
if (!base) {
  console.error('usage: node bench/slow-phone.mjs <base URL> [runs]');
  process.exit(2);
}
const NETWORK = {
  offline: false,
  latency: 562.5,
  downloadThroughput: (1.6 * 1024 * 1024 * 0.9) / 8,
  uploadThroughput: (750 * 1024 * 0.9) / 8,
};

const browser = await launchChromium();

async function once() {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', NETWORK);
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });
  await page.goto(`${base}/products/tokyo-night-presets`);
  await page.waitForSelector('form.checkout[data-hydrated="true"]', { timeout: 60_000 });
  const hydrated = await page.evaluate(() => performance.now());
  await page.waitForFunction(() => {
    const pay = document.querySelector('form.checkout button.pay');
    return pay !== null && !pay.disabled;
  }, null, { polling: 'raf', timeout: 60_000 });
  const timing = await page.evaluate((hydrated) => {
    const usable = performance.now();
    const nav = performance.getEntriesByType('navigation')[0];
    const resources = performance.getEntriesByType('resource');
    const find = (test) => resources.find((r) => test(r.name));
    const span = (r) => (r ? [r.startTime, r.responseEnd] : null);
    return {
      usable,
      html: [0, nav.responseEnd],
      domContentLoaded: nav.domContentLoadedEventEnd,
      js: span(find((n) => /\/pkg\/.*\.js$/.test(n))),
      wasm: span(find((n) => /\/pkg\/.*\.wasm$/.test(n))),
      css: span(find((n) => /\/pkg\/.*\.css$/.test(n))),
      stripeJs: span(find((n) => /\/v3\/?$/.test(n))),
      hydrated,
    };
  }, hydrated);
  await context.close();
  return timing;
}

await once(); // warm the server and the OS caches
const results = [];
for (let i = 0; i < runs; i++) results.push(await once());
results.sort((a, b) => a.usable - b.usable);
const median = results[Math.floor(results.length / 2)];
const slowest = results[results.length - 1];
console.log(
  `slow phone (4x CPU, Fast 3G): page load to usable payment form: median ${median.usable.toFixed(0)} ms, slowest ${slowest.usable.toFixed(0)} ms over ${runs} first visits`,
);
const show = (label, s) => {
  if (s) console.log(`  ${label.padEnd(28)} ${s[0].toFixed(0).padStart(5)} → ${s[1].toFixed(0).padStart(5)} ms (${(s[1] - s[0]).toFixed(0)} ms)`);
  else console.log(`  ${label.padEnd(28)} not requested`);
};
console.log('where the median run spent its time (start → end, from navigation):');
show('page HTML', median.html);
show('stylesheet', median.css);
show('hydration script', median.js);
show('wasm bundle', median.wasm);
show('Stripe.js', median.stripeJs);
console.log(`  ${'DOMContentLoaded'.padEnd(28)} ${median.domContentLoaded.toFixed(0).padStart(5)} ms`);
console.log(`  ${'island hydrated'.padEnd(28)} ${median.hydrated.toFixed(0).padStart(5)} ms`);
console.log(`  ${'payment form usable'.padEnd(28)} ${median.usable.toFixed(0).padStart(5)} ms`);
await browser.close();
