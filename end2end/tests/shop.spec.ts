// Browser tests of the shop's payment path: the catalog, the checkout form on a product page
// (Payment Element from the Stripe stand-in) and the order page, checked against what the
// stand-in recorded.
//
// The `shop` fixture (tests/support/shop.ts) runs one shop per worker: a fresh Postgres
// database, its own stand-in and `target/debug/server`. Tests in this file share that shop but
// each gets a fresh browser context, so no checkout cookie carries over from one to the next.
// Where a test needs "the PaymentIntent of this test", it compares the stand-in's list with a
// snapshot taken when the test began.
import {
  CARDS,
  checkout,
  expect,
  fillCheckout,
  intentsForOrder,
  intentsSince,
  listIntents,
  openProduct,
  orderIdFromUrl,
  orderPage,
  requestsSince,
  sqlInShop,
  standinConfig,
  standinRequests,
  startPaying,
  startShop,
  test,
  waitForHydration,
} from './support/shop';
import type { Page, Request } from '@playwright/test';

const RECORDINGS = { slug: 'field-recordings-vol-1', title: 'Field Recordings, Vol. 1', price: '$12.00' };
const PRESETS = { slug: 'tokyo-night-presets', title: 'Tokyo Night Presets', price: '¥1,500' };

const AUTH_FAILED = 'We are unable to authenticate your payment method.';

// A payment is a few round trips between browser, shop and stand-in; give each test room.
test.describe.configure({ timeout: 60_000 });

test('a shopper pays with 4242 and sees the paid order', async ({ page, shop }) => {
  await page.goto('/');
  const card = page.locator('li.product-card').filter({ has: page.getByRole('heading', { name: RECORDINGS.title }) });
  await expect(card.locator('.price')).toHaveText(RECORDINGS.price);
  await card.getByRole('link').click();

  await expect(page).toHaveURL(new RegExp(`/products/${RECORDINGS.slug}$`));
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(RECORDINGS.title);
  const c = checkout(page);
  await waitForHydration(page);
  // The card fields are there once the page's script has run; nothing is made at Stripe yet.
  await fillCheckout(page, { card: CARDS.ok });
  await expect(c.payButton).toHaveText(`Pay ${RECORDINGS.price}`);
  await c.payButton.click();

  const orderId = await orderIdFromUrl(page);
  const order = orderPage(page);
  await expect(order.status).toHaveText('Paid');
  await expect(order.article).toHaveAttribute('data-status', 'paid');
  await expect(order.article).toContainText(RECORDINGS.title);
  await expect(order.amount).toHaveText(RECORDINGS.price);

  const intents = await intentsForOrder(shop, orderId);
  expect(intents).toHaveLength(1);
  expect(intents[0]).toMatchObject({ status: 'succeeded', amount: 1200, currency: 'usd' });

  // A guest gets the file from the order page at once, without an account.
  const download = page.waitForEvent('download');
  await order.article.getByRole('link', { name: 'Download your file' }).click();
  const file = await download;
  expect(file.suggestedFilename()).toBe('field-recordings-vol-1.wav');
  expect(await file.failure()).toBeNull();
});

test('a declined card shows the error and the same order then succeeds with 4242', async ({ page, shop }) => {
  const before = await listIntents(shop);
  const requestsBefore = await standinRequests(shop);
  await openProduct(page, RECORDINGS.slug);
  const c = checkout(page);

  await fillCheckout(page, { card: CARDS.declined });
  await c.payButton.click();
  await expect(c.error).toHaveText('Your card was declined.');
  await expect(c.payButton).toBeEnabled();
  await expect(c.payButton).toHaveText(`Pay ${RECORDINGS.price}`);
  await expect(page).toHaveURL(new RegExp(`/products/${RECORDINGS.slug}$`));

  // Same form, same order: only the card number changes.
  await c.cardNumber.fill(CARDS.ok);
  await c.payButton.click();
  const orderId = await orderIdFromUrl(page);
  await expect(orderPage(page).status).toHaveText('Paid');

  // One PaymentIntent for this product came into being during this test: the one the
  // declined attempt used, now paid by the second attempt.
  const created = (await intentsSince(shop, before)).filter((pi) => pi.metadata?.product === RECORDINGS.slug);
  expect(created, JSON.stringify(created, null, 2)).toHaveLength(1);
  expect(created[0].metadata.order_id).toBe(orderId);
  expect(created[0].status).toBe('succeeded');
  expect(await intentsForOrder(shop, orderId)).toHaveLength(1);
  // Both attempts confirmed that one intent.
  const confirms = (await requestsSince(shop, requestsBefore)).filter(
    (r) => r.method === 'POST' && r.path.endsWith('/confirm'),
  );
  expect(confirms.map((r) => r.path)).toEqual([
    `/v1/payment_intents/${created[0].id}/confirm`,
    `/v1/payment_intents/${created[0].id}/confirm`,
  ]);
});

test('insufficient funds (9995) shows the bank\'s message next to the form', async ({ page }) => {
  await openProduct(page, RECORDINGS.slug);
  const c = checkout(page);

  await fillCheckout(page, { card: CARDS.insufficientFunds });
  await c.payButton.click();

  await expect(c.error).toHaveText('Your card has insufficient funds.');
  await expect(c.payButton).toBeEnabled();
  await expect(page).toHaveURL(new RegExp(`/products/${RECORDINGS.slug}$`));
});

test('the 3DS card completes and the order is paid', async ({ page, shop }) => {
  await openProduct(page, RECORDINGS.slug);
  const c = checkout(page);

  await fillCheckout(page, { card: CARDS.threeDS });
  await c.payButton.click();
  const dialog = page.getByRole('dialog', { name: '3D Secure authentication' });
  await expect(dialog).toBeVisible();
  await dialog.getByRole('button', { name: 'Complete', exact: true }).click();

  const orderId = await orderIdFromUrl(page);
  await expect(orderPage(page).status).toHaveText('Paid');
  await expect(orderPage(page).article).toHaveAttribute('data-status', 'paid');
  const intents = await intentsForOrder(shop, orderId);
  expect(intents).toHaveLength(1);
  expect(intents[0].status).toBe('succeeded');
});

test('a refused 3DS authentication leaves the order unpaid with a message', async ({ page, shop }) => {
  const before = await listIntents(shop);
  await openProduct(page, RECORDINGS.slug);
  const c = checkout(page);

  await fillCheckout(page, { card: CARDS.threeDS });
  await c.payButton.click();
  const dialog = page.getByRole('dialog', { name: '3D Secure authentication' });
  await expect(dialog).toBeVisible();
  await dialog.getByRole('button', { name: 'Fail', exact: true }).click();

  await expect(c.error).toContainText(AUTH_FAILED);
  await expect(dialog).toHaveCount(0);
  await expect(c.payButton).toBeEnabled();
  await expect(page).toHaveURL(new RegExp(`/products/${RECORDINGS.slug}$`));

  // The order behind this form, as the stand-in knows it.
  const created = await intentsSince(shop, before);
  expect(created, JSON.stringify(created, null, 2)).toHaveLength(1);
  const orderId = created[0].metadata.order_id;
  expect(orderId).toMatch(/^ord_[a-z0-9]{26}$/);
  expect(created[0].status).toBe('requires_payment_method');

  await page.goto(`/orders/${orderId}`);
  const order = orderPage(page);
  // The page asks Stripe before it renders, and Stripe recorded the refused attempt.
  await expect(order.article).toHaveAttribute('data-status', 'failed');
  await expect(order.status).toHaveText('Payment failed');
});

test('reloading the order page stays paid', async ({ page }) => {
  await openProduct(page, RECORDINGS.slug);
  await fillCheckout(page, { card: CARDS.ok });
  await checkout(page).payButton.click();

  const orderId = await orderIdFromUrl(page);
  const order = orderPage(page);
  await expect(order.status).toHaveText('Paid');

  await page.reload();
  await expect(page).toHaveURL(new RegExp(`/orders/${orderId}$`));
  await expect(order.status).toHaveText('Paid');
  await expect(order.article).toHaveAttribute('data-status', 'paid');
  await expect(order.article).toContainText(orderId);
});

test('the JPY product charges the right amount', async ({ page, shop }) => {
  await openProduct(page, PRESETS.slug);
  const c = checkout(page);
  await expect(page.locator('article.product .price')).toHaveText(PRESETS.price);
  await expect(c.payButton).toHaveText(`Pay ${PRESETS.price}`);

  await fillCheckout(page, { card: CARDS.ok });
  await c.payButton.click();

  const orderId = await orderIdFromUrl(page);
  const order = orderPage(page);
  await expect(order.status).toHaveText('Paid');
  await expect(order.amount).toHaveText(PRESETS.price);
  await expect(order.article).toContainText(PRESETS.title);

  const intents = await intentsForOrder(shop, orderId);
  expect(intents).toHaveLength(1);
  expect(intents[0]).toMatchObject({ status: 'succeeded', amount: 1500, currency: 'jpy' });
});

test('the pay button is disabled while the payment is in flight', async ({ page, shop }) => {
  await openProduct(page, RECORDINGS.slug);
  const c = checkout(page);
  await fillCheckout(page, { card: CARDS.ok });

  // Hold the browser's confirm call at the stand-in until the button has been checked, so the
  // payment is reliably still in flight while we look.
  let confirmSeen = false;
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  await page.route(
    (url) => url.origin === shop.standinURL && /^\/v1\/payment_intents\/[^/]+\/confirm$/.test(url.pathname),
    async (route) => {
      confirmSeen = true;
      await released;
      await route.continue();
    },
  );

  await c.payButton.click();
  await expect(c.payButton).toBeDisabled();
  await expect(c.payButton).toHaveText(`Paying ${RECORDINGS.price}…`);
  await expect.poll(() => confirmSeen, { message: 'the browser should be confirming the payment' }).toBe(true);
  await expect(c.payButton).toBeDisabled();

  release();
  await orderIdFromUrl(page);
  await expect(orderPage(page).status).toHaveText('Paid');
});

test('a payment whose answer is lost on the way still shows the paid order, and no second order is made', async ({ page, shop }) => {
  const before = await listIntents(shop);
  await openProduct(page, RECORDINGS.slug);
  await fillCheckout(page, { card: CARDS.ok });
  // The confirmation reaches the stand-in and is carried out; its answer never reaches the
  // browser, as when a phone loses its connection at that moment.
  let lost = 0;
  await page.route(
    (url) => url.origin === shop.standinURL && /^\/v1\/payment_intents\/[^/]+\/confirm$/.test(url.pathname),
    async (route) => {
      await route.fetch();
      lost += 1;
      await route.abort('connectionfailed');
    },
  );
  await checkout(page).payButton.click();

  const orderId = await orderIdFromUrl(page);
  await expect(orderPage(page).status).toHaveText('Paid');
  expect(lost).toBe(1);
  const created = (await intentsSince(shop, before)).filter((pi) => pi.metadata?.product === RECORDINGS.slug);
  expect(created.map((pi) => [pi.metadata.order_id, pi.status])).toEqual([[orderId, 'succeeded']]);
});

test('an invalid email shows a plain message and creates no payment', async ({ page, shop }) => {
  const before = await listIntents(shop);
  const requestsBefore = await standinRequests(shop);
  const browserConfirms: string[] = [];
  page.on('request', (request) => {
    if (new URL(request.url()).pathname.endsWith('/confirm')) browserConfirms.push(request.url());
  });

  await openProduct(page, RECORDINGS.slug);
  const c = checkout(page);
  await fillCheckout(page, { email: 'not-an-email', card: CARDS.ok });
  await c.payButton.click();

  await expect(c.error).toHaveText('Please enter a valid email address.');
  await expect(c.payButton).toBeEnabled();
  await expect(c.payButton).toHaveText(`Pay ${RECORDINGS.price}`);
  await expect(page).toHaveURL(new RegExp(`/products/${RECORDINGS.slug}$`));

  // Nothing was confirmed: no confirm call reached the stand-in since this test began...
  const newRequests = await requestsSince(shop, requestsBefore);
  expect(newRequests.filter((r) => r.path.includes('/confirm')), JSON.stringify(newRequests, null, 2)).toEqual([]);
  expect(browserConfirms).toEqual([]);
  // ...and no PaymentIntent was made: the email is checked before the order is.
  expect(await intentsSince(shop, before)).toEqual([]);
});

/** Pays with 4242 while the stand-in holds payments in `processing`, then reloads the order
 * page with its clock paused (from here its timers move only when the test moves them), and
 * records the page's order lookups. */
async function watchProcessingOrder(page: Page) {
  await openProduct(page, RECORDINGS.slug);
  await fillCheckout(page, { card: CARDS.ok });
  await checkout(page).payButton.click();
  const orderId = await orderIdFromUrl(page);
  const order = orderPage(page);
  await expect(order.status).toHaveText('Processing');
  await page.clock.install();
  await page.reload();
  await page.clock.pauseAt(Date.now() + 1_000);
  await expect(order.status).toHaveText('Processing');
  const lookups: string[] = [];
  let answered = 0;
  const isLookup = (request: Request) => new URL(request.url()).pathname === '/api/get_order';
  page.on('request', (request) => {
    if (isLookup(request)) lookups.push(request.url());
  });
  const done = (request: Request) => {
    if (isLookup(request)) answered += 1;
  };
  page.on('requestfinished', done);
  page.on('requestfailed', done);
  /** Waits until every lookup the page has made so far is seen here and answered. The page
   * takes one look at a time and skips a look that comes due while the last is unanswered, so
   * the clock must not move on before the answer is in (`networkidle` does not wait: it was
   * reached long before). A request of the test's own, sent from the page after the clock
   * moved, is reported after any lookup the move set off, so none is missed. */
  const answers = async () => {
    await page.evaluate(() => fetch('/healthz').then((r) => r.status));
    await expect.poll(() => answered, { timeout: 10_000 }).toBe(lookups.length);
  };
  return { orderId, order, lookups, answers };
}

test('the order page follows a processing payment to paid without a reload, then stops asking', async ({ page, shop }) => {
  // The stand-in holds successful payments in `processing` for a while, as banks sometimes do.
  await standinConfig(shop, { processing_ms: 8_000 });
  try {
    const { orderId, order, lookups, answers } = await watchProcessingOrder(page);
    await expect
      .poll(async () => (await intentsForOrder(shop, orderId))[0]?.status, { timeout: 30_000 })
      .toBe('succeeded');
    await expect(order.status, 'nothing changes before the page asks again').toHaveText('Processing');

    await page.clock.runFor(1_500);
    await expect(order.status).toHaveText('Paid');
    await expect(order.article).toHaveAttribute('data-status', 'paid');
    const asked = lookups.length;
    expect(asked).toBeGreaterThan(0);

    await page.clock.runFor(15_000);
    await answers();
    expect(lookups, 'no lookups once the order is paid').toHaveLength(asked);
  } finally {
    await standinConfig(shop, { processing_ms: 0 });
  }
});

test('a shopper whose price changed after the page was shown is told the new price and pays it only on a second press', async ({ page, shop }) => {
  // The page shows the catalog's price; the seller raises it before this shopper presses Pay,
  // so the order is made at the new price. The shopper must see it before paying it.
  await page.route(`${shop.baseURL}/api/start_checkout`, async (route) => {
    sqlInShop(shop, "update product set price_minor = 1100 where slug = 'api-credits-1000'");
    await route.continue();
  });
  const before = await listIntents(shop);
  try {
    await page.goto('/products/api-credits-1000');
    await expect(page.locator('article.product .price')).toHaveText('€9.00');
    const c = checkout(page);
    await startPaying(page);
    await expect(c.payButton).toHaveText('Pay €9.00');
    await fillCheckout(page, { card: CARDS.ok });
    await c.payButton.click();
    await expect(c.error).toHaveText('The price is now €11.00. Press the button again to pay it.');
    await expect(c.payButton).toBeEnabled();
    await expect(c.payButton).toHaveText('Pay €11.00');
    // The page's own price line says the new price too.
    await expect(page.locator('article.product .price')).toHaveText('€11.00');
    const created = await intentsSince(shop, before);
    expect(created.map((i) => [i.amount, i.currency, i.status])).toEqual([[1100, 'eur', 'requires_payment_method']]);

    await c.payButton.click();
    await expect(orderPage(page).status).toHaveText('Paid', { timeout: 20_000 });
    const paid = await intentsSince(shop, before);
    expect(paid.map((i) => [i.amount, i.status])).toEqual([[1100, 'succeeded']]);
  } finally {
    sqlInShop(shop, "update product set price_minor = 900 where slug = 'api-credits-1000'");
  }
});

test('the order page asks less and less often while a payment stays processing, then stops and says so', async ({ page, shop }) => {
  await standinConfig(shop, { processing_ms: 3_600_000 });
  try {
    const { order, lookups, answers } = await watchProcessingOrder(page);
    const advance = async (ms: number) => {
      await page.clock.runFor(ms);
      await answers();
    };

    // Find the first look to within half a second, then time the next ones from it: the gaps
    // grow from 3 s to 6 s (a fixed 1.5 s interval would have looked six times by then).
    for (let waited = 0; lookups.length === 0 && waited < 5_000; waited += 500) await advance(500);
    expect(lookups).toHaveLength(1);
    await advance(2_500);
    expect(lookups, 'no second look within 2.5 s').toHaveLength(1);
    await advance(1_000);
    expect(lookups, 'the second look 3 s after the first').toHaveLength(2);
    await advance(5_000);
    expect(lookups, 'no third look within 5 s').toHaveLength(2);
    await advance(1_000);
    expect(lookups, 'the third look 6 s after the second').toHaveLength(3);

    // Ten minutes on, it has stopped and says so; nothing more is asked.
    for (let i = 0; i < 22; i++) await advance(30_000);
    await expect(page.getByText('This is taking longer than usual')).toBeVisible();
    const asked = lookups.length;
    expect(asked).toBeLessThan(30);
    await advance(30 * 60_000);
    expect(lookups).toHaveLength(asked);
    await expect(order.status).toHaveText('Processing');
  } finally {
    await standinConfig(shop, { processing_ms: 0 });
  }
});

test('looking at a product and filling in the form makes no PaymentIntent; pressing Pay makes one', async ({ page, shop }) => {
  const before = await listIntents(shop);
  await page.goto(`/products/${RECORDINGS.slug}`);
  const c = checkout(page);
  await startPaying(page);
  // Hydrated and idle: a crawler that runs scripts gets this far and no further.
  await page.waitForLoadState('networkidle');
  await expect(c.loading).toHaveCount(0);
  await fillCheckout(page, { card: CARDS.ok });
  await page.waitForLoadState('networkidle');
  expect(await intentsSince(shop, before)).toEqual([]);

  await c.payButton.click();
  await expect(orderPage(page).status).toHaveText('Paid', { timeout: 20_000 });
  const created = await intentsSince(shop, before);
  expect(created.map((pi) => pi.metadata.product)).toEqual([RECORDINGS.slug]);
});

test('a shopper past the checkout limit is told to wait, and nothing is made for the refused try', async ({ page }) => {
  // A shop of its own, allowing one checkout start a minute.
  const { shop, shutdown } = await startShop({ CHECKOUT_STARTS_PER_MINUTE: '1' });
  try {
    // The one start this minute: a payment.
    await page.goto(`${shop.baseURL}/products/${RECORDINGS.slug}`);
    await startPaying(page);
    await fillCheckout(page, { card: CARDS.ok });
    await checkout(page).payButton.click();
    await expect(orderPage(page).status).toHaveText('Paid', { timeout: 20_000 });
    const before = await listIntents(shop);

    await page.goto(`${shop.baseURL}/products/${PRESETS.slug}`);
    await startPaying(page);
    const c = checkout(page);
    await fillCheckout(page, { card: CARDS.ok });
    const refused = page.waitForResponse((r) => r.url().endsWith('/api/start_checkout'));
    await c.payButton.click();
    expect((await refused).status()).toBe(429);
    await expect(c.error).toHaveText('Too many attempts in a short time. Please wait a minute and try again.');
    // The shopper may try again later: the button is back.
    await expect(c.payButton).toBeEnabled();
    await expect(c.payButton).toHaveText(`Pay ${PRESETS.price}`);
    expect(await intentsSince(shop, before)).toEqual([]);
  } finally {
    await shutdown();
  }
});
