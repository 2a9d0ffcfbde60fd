// What must never leave the server: the Stripe secret key and the webhook secret. After a
// shopper has paid (so every code path that touches Stripe has run), neither appears in any
// page, script, stylesheet or the wasm bundle the browser received, nor in the server's log.
import { readFileSync } from 'node:fs';
import {
  CARDS,
  SECRET_KEY,
  WEBHOOK_SECRET,
  checkout,
  expect,
  fillCheckout,
  openProduct,
  orderPage,
  test,
} from './support/shop';

test.describe.configure({ timeout: 60_000 });

test('secrets never reach pages, scripts, the wasm bundle or the log', async ({ page, shop }) => {
  // Server-function answers pass through the test on their way to the page, so each body is
  // read here even when the page navigates away right after it. Everything else is read as it
  // arrives, and read again from the shop if the page moved on before its body could be.
  const received: { url: string; body: Buffer }[] = [];
  const reading: Promise<void>[] = [];
  await page.route(
    (url) => url.href.startsWith(`${shop.baseURL}/api/`),
    async (route) => {
      const response = await route.fetch();
      const body = await response.body();
      received.push({ url: route.request().url(), body });
      await route.fulfill({ response, body }).catch(() => undefined);
    },
  );
  page.on('response', (response) => {
    const url = response.url();
    if (!url.startsWith(shop.baseURL) || url.startsWith(`${shop.baseURL}/api/`)) return;
    if (response.status() >= 300 && response.status() < 400) return; // no body
    reading.push(
      response
        .body()
        .catch(() => page.request.get(url).then((again) => again.body()))
        .then((body) => void received.push({ url, body })),
    );
  });

  await page.goto('/');
  await openProduct(page, 'tokyo-night-presets');
  await fillCheckout(page, { email: 'secrets@example.com', card: CARDS.ok });
  await checkout(page).payButton.click();
  await expect(orderPage(page).status).toHaveText('Paid', { timeout: 20_000 });
  await page.reload();
  await expect(orderPage(page).status).toHaveText('Paid');

  await Promise.all(reading);
  const urls = received.map((r) => new URL(r.url).pathname);
  // The test is only worth something if the pages, the bundle and the server-function answers
  // were all seen.
  const orderPath = new URL(page.url()).pathname;
  for (const wanted of ['/', '/products/tokyo-night-presets', orderPath]) {
    expect(urls, `the page ${wanted} was scanned`).toContain(wanted);
  }
  expect(urls.some((u) => u.endsWith('.wasm'))).toBe(true);
  expect(urls.some((u) => u.startsWith('/api/start_checkout'))).toBe(true);
  for (const { url, body } of received) {
    const text = body.toString('latin1');
    expect(text.includes(SECRET_KEY), `${url} holds the Stripe secret key`).toBe(false);
    expect(text.includes(WEBHOOK_SECRET), `${url} holds the webhook secret`).toBe(false);
  }
  const log = readFileSync(shop.shopLog, 'latin1');
  expect(log.length).toBeGreaterThan(0);
  expect(log.includes(SECRET_KEY)).toBe(false);
  expect(log.includes(WEBHOOK_SECRET)).toBe(false);
});
