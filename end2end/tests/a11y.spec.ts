// Accessibility of every shopper page, checked with axe-core in real Chromium: the catalog, a
// product before and while paying, a declined payment, the order page, the account pages, the
// policy pages and an error page, in the light and the dark scheme. Then a purchase made with the
// keyboard alone, and every page at a 360 px phone's width without sideways scrolling.
import AxeBuilder from '@axe-core/playwright';
import type { Page } from '@playwright/test';

import { address, signUpAndVerify } from './support/accounts';
import {
  CARDS,
  checkout,
  expect,
  fillCheckout,
  openProduct,
  orderIdFromUrl,
  orderPage,
  test,
  waitForHydration,
} from './support/shop';

const RECORDINGS = { slug: 'field-recordings-vol-1', title: 'Field Recordings, Vol. 1', price: '$12.00' };

test.describe.configure({ timeout: 90_000 });

/** Runs axe on the page as it is now (WCAG 2.1 A and AA, and axe's best practices) and fails
 * on any serious or critical violation, naming each rule and where it fired. */
async function expectAccessible(page: Page, what: string): Promise<void> {
  const results = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'])
    .analyze();
  const serious = results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join('; ')}`);
  expect(serious, `${what}: axe found serious or critical violations`).toEqual([]);
  // The rest are worth seeing, but do not fail the test.
  for (const v of results.violations.filter((v) => v.impact !== 'serious' && v.impact !== 'critical')) {
    console.log(`${what}: ${v.id} (${v.impact}): ${v.help}`);
  }
}

/** Fails when the page is wider than the window: content a phone would scroll sideways to. */
async function expectNoSidewaysScroll(page: Page, what: string): Promise<void> {
  const { scroll, window } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    window: window.innerWidth,
  }));
  expect(scroll, `${what} is ${scroll} px wide in a ${window} px window`).toBeLessThanOrEqual(window);
}

/** Pays for the recordings with `card` from a fresh product page. */
async function payFor(page: Page, card: string): Promise<void> {
  await openProduct(page, RECORDINGS.slug);
  await fillCheckout(page, { card });
  await checkout(page).payButton.click();
}

for (const scheme of ['light', 'dark'] as const) {
  test(`the catalog, a product, its payment form, a decline and the paid order pass axe (${scheme})`, async ({ page }) => {
    await page.emulateMedia({ colorScheme: scheme });
    await page.goto('/');
    await expect(page.locator('li.product-card').first()).toBeVisible();
    await expectAccessible(page, 'catalog');

    await page.goto(`/products/${RECORDINGS.slug}`);
    await waitForHydration(page);
    await expectAccessible(page, 'product page');

    // The payment form, open; then a declined card's message.
    await payFor(page, CARDS.declined);
    await expect(checkout(page).error).toHaveText('Your card was declined.');
    // Announced as it appears.
    await expect(checkout(page).error).toHaveAttribute('role', 'alert');
    await expectAccessible(page, 'declined payment');

    await fillCheckout(page, { card: CARDS.ok });
    await checkout(page).payButton.click();
    await orderIdFromUrl(page);
    await expect(orderPage(page).status).toHaveText('Paid');
    await expectAccessible(page, 'paid order');

    for (const path of ['/terms', '/refund-policy', '/privacy', '/sign-in', '/sign-up', '/forgot-password', '/no-such-page']) {
      await page.goto(path);
      await expectAccessible(page, path);
    }
  });
}

test('a signed-in shopper\'s account, library, order and receipt pass axe and fit a 360 px phone', async ({ page }) => {
  await page.setViewportSize({ width: 360, height: 740 });
  await signUpAndVerify(page, address('a11y'));
  await expectAccessible(page, 'account');
  await payFor(page, CARDS.ok);
  const orderId = await orderIdFromUrl(page);
  await expect(orderPage(page).status).toHaveText('Paid');
  await expectNoSidewaysScroll(page, 'the order page');
  await page.goto('/library');
  await expect(page.getByRole('heading', { name: RECORDINGS.title })).toBeVisible();
  await expectAccessible(page, 'library');
  await expectNoSidewaysScroll(page, 'the library');
  await page.goto(`/account/orders/${orderId}`);
  await expectAccessible(page, 'receipt');
  await expectNoSidewaysScroll(page, 'the receipt');
  await page.goto('/account');
  await expect(page.locator('table.orders')).toContainText(RECORDINGS.title);
  await expectAccessible(page, 'account with an order');
  await expectNoSidewaysScroll(page, 'the account');
});

/** Presses Tab until `target` has the focus (at most `limit` times) and checks that the focus
 * can be seen: a solid outline, or the payment form's own ring. */
async function tabTo(page: Page, target: ReturnType<Page['locator']>, limit = 40): Promise<void> {
  for (let i = 0; i < limit; i++) {
    await page.keyboard.press('Tab');
    if (await target.evaluate((el) => el === document.activeElement)) {
      const ring = await target.evaluate((el) => {
        const style = getComputedStyle(el);
        return style.outlineStyle !== 'none' && style.outlineWidth !== '0px' ? 'outline' : style.boxShadow;
      });
      expect(ring, 'the focused element shows it').not.toBe('none');
      return;
    }
  }
  throw new Error(`Tab never reached ${target}`);
}

test('a shopper buys with the keyboard alone', async ({ page }) => {
  await page.goto('/');
  // The first Tab offers to skip to the content.
  await page.keyboard.press('Tab');
  const skip = page.getByRole('link', { name: 'Skip to content' });
  await expect(skip).toBeFocused();
  await expect(skip).toBeInViewport();
  await page.keyboard.press('Enter');

  const product = page.locator('li.product-card').filter({ hasText: RECORDINGS.title }).getByRole('link');
  await tabTo(page, product);
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(new RegExp(`/products/${RECORDINGS.slug}$`));
  await waitForHydration(page);

  const c = checkout(page);
  // The card fields are mounted once the island has hydrated; the keyboard reaches them after the email.
  await tabTo(page, c.email);
  await page.keyboard.type('keys@example.com');
  await expect(c.cardNumber).toBeVisible({ timeout: 20_000 });
  await tabTo(page, c.cardNumber, 3);
  await page.keyboard.type(CARDS.ok);
  await tabTo(page, c.expiry, 3);
  await page.keyboard.type('12 / 34');
  await tabTo(page, c.cvc, 3);
  await page.keyboard.type('123');
  await tabTo(page, c.payButton, 5);
  await expect(c.payButton).toHaveText(`Pay ${RECORDINGS.price}`);
  await page.keyboard.press('Enter');

  await orderIdFromUrl(page);
  await expect(orderPage(page).status).toHaveText('Paid');
});

test('every shopper page fits a 360 px phone without sideways scrolling', async ({ page }) => {
  await page.setViewportSize({ width: 360, height: 740 });
  const paths = [
    '/',
    `/products/${RECORDINGS.slug}`,
    '/products/tokyo-night-presets',
    '/products/api-credits-1000',
    '/terms',
    '/refund-policy',
    '/privacy',
    '/sign-in',
    '/sign-up',
    '/forgot-password',
    '/no-such-page',
  ];
  for (const path of paths) {
    await page.goto(path);
    await expectNoSidewaysScroll(page, path);
  }
  // With the payment form open, and after a decline.
  await payFor(page, CARDS.declined);
  await expect(checkout(page).error).toHaveText('Your card was declined.');
  await expectNoSidewaysScroll(page, 'the payment form');
});
