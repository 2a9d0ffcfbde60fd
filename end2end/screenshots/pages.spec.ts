// Screenshots of the shop's main pages at a phone's and a desktop's width, in the light and
// the dark scheme, for people to look at (not compared with anything). Run through
// `bash scripts/screenshots.sh`; they land in end2end/screenshots/out/, which git ignores.
import path from 'node:path';

import { CARDS, checkout, expect, fillCheckout, openProduct, orderIdFromUrl, orderPage, test } from '../tests/support/shop';

const OUT = path.join(__dirname, 'out');
const WIDTHS = [375, 1280];

test.describe.configure({ timeout: 120_000 });

test('home, product, order and error pages', async ({ page }) => {
  // One paid order to show.
  await openProduct(page, 'field-recordings-vol-1');
  await fillCheckout(page, { card: CARDS.ok });
  await checkout(page).payButton.click();
  const orderId = await orderIdFromUrl(page);
  await expect(orderPage(page).status).toHaveText('Paid');

  const pages: [string, string][] = [
    ['home', '/'],
    ['product', '/products/field-recordings-vol-1'],
    ['order', `/orders/${orderId}`],
    ['not-found', '/no-such-page'],
  ];
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: width < 600 ? 812 : 900 });
      for (const [name, url] of pages) {
        await page.goto(url);
        await page.waitForLoadState('networkidle');
        const file = path.join(OUT, `${name}-${width}-${scheme}.png`);
        await page.screenshot({ path: file, fullPage: true });
        console.log(file);
      }
    }
  }
});
