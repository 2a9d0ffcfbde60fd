// Time from saving an edit of a page's markup to an open browser showing it, under
// `cargo leptos watch` (which rebuilds, restarts the server and tells the page to reload over
// its live-reload socket). Edits the catalog page's heading `edits` times, waits for each to
// show, then puts the file back and waits for that too. Prints each time and the median;
// asserts nothing.
//
// Each edit makes the heading longer than the last, so every position after it in the file
// shifts, as it does after most real edits (rustc's spans are byte offsets). An edit that keeps
// every position, such as changing one digit, rebuilds much less (about 6 s here against 11 to
// 13 s), so timing only those would flatter the loop.
//
// Usage: node bench/watch-reload.mjs <shop base URL> [edits, default 5]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { launchChromium } from './chromium.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

const base = process.argv[2];
const edits = Number(process.argv[3] || 5);
if (!base) {
  console.error('usage: node bench/watch-reload.mjs <base URL> [edits]');
  process.exit(2);
}

const file = path.join(here, '..', 'pages', 'shop', 'src', 'home.rs');
const heading = 'Digital goods';
const original = fs.readFileSync(file, 'utf8');
const tag = `<h1>"${heading}"</h1>`;
if (!original.includes(tag)) {
  console.error(`${file} no longer holds ${tag}: update bench/watch-reload.mjs`);
  process.exit(2);
}
let restored = false;
const restore = () => {
  if (!restored) fs.writeFileSync(file, original);
  restored = true;
};
process.on('exit', restore);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => process.exit(1));

const browser = await launchChromium();
const page = await browser.newPage();
await page.goto(base);

// The page reloads itself; between its unload and the next load the heading cannot be read.
async function shows(text, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const now = await page.textContent('h1', { timeout: 1_000 }).catch(() => null);
    if (now === text) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
}

if (!(await shows(heading, 30_000))) {
  console.error(`the catalog page does not show "${heading}"`);
  process.exit(1);
}

const times = [];
for (let i = 1; i <= edits; i++) {
  const text = `${heading} (edit ${i}${'!'.repeat(i)})`;
  const start = performance.now();
  fs.writeFileSync(file, original.replace(tag, `<h1>"${text}"</h1>`));
  if (!(await shows(text, 600_000))) {
    console.error(`edit ${i} did not show within 10 minutes`);
    process.exit(1);
  }
  const ms = performance.now() - start;
  times.push(ms);
  console.log(`edit ${i}: shown after ${(ms / 1000).toFixed(2)} s`);
  // Let the watcher settle (its server restart, the socket reconnecting) before the next edit.
  await new Promise((r) => setTimeout(r, 3_000));
}
restore();
const back = await shows(heading, 600_000);
const sorted = [...times].sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)];
console.log(
  `edit to browser: median ${(median / 1000).toFixed(2)} s, fastest ${(sorted[0] / 1000).toFixed(2)} s, ` +
    `slowest ${(sorted[sorted.length - 1] / 1000).toFixed(2)} s over ${times.length} edits` +
    (back ? '' : ' (the restored heading did not show)'),
);
await browser.close();
