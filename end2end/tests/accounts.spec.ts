// Accounts in Chromium: a shopper buys as a guest, signs up with the same email, follows the
// link the shop mails (read from the SMTP catcher scripts/test.sh runs), and finds the order in
// their account; a wrong password reads the same as an unknown email. The account forms are
// plain HTML forms (no island), so this is also what a browser without JavaScript gets.
import { readFileSync } from 'node:fs';

import { PASSWORD, address, linkIn, mailTo, signUpAndVerify } from './support/accounts';
import { CARDS, checkout, expect, fillCheckout, openProduct, orderIdFromUrl, orderPage, test } from './support/shop';

test.describe.configure({ timeout: 60_000 });

test('a guest purchase appears in the account and the library once its email is verified, and downloads', async ({ page }) => {
  const email = address('guest');
  await openProduct(page, 'field-recordings-vol-1');
  await fillCheckout(page, { email, card: CARDS.ok });
  await checkout(page).payButton.click();
  const orderId = await orderIdFromUrl(page);
  await expect(orderPage(page).status).toHaveText('Paid');

  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.getByRole('link', { name: 'Create an account' }).click();
  const form = page.getByRole('form', { name: 'Create an account' });
  await form.getByLabel('Email').fill(email);
  await form.getByLabel('Password (at least 10 characters)').fill(PASSWORD);
  await form.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('status')).toContainText('Check your inbox');

  const link = linkIn(await mailTo(email, 'Verify your email'));
  await page.goto(link);
  await page.getByRole('form', { name: 'Verify your email' }).getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Verify my email' }).click();

  await expect(page).toHaveURL(/\/account$/);
  await expect(page.getByText(`Signed in as ${email}`)).toBeVisible();
  const row = page.locator('table.orders tbody tr');
  await expect(row).toHaveCount(1);
  await expect(row).toContainText('Field Recordings, Vol. 1');
  await expect(row).toContainText('$12.00');
  await expect(row.getByRole('link')).toHaveAttribute('href', `/account/orders/${orderId}`);

  // And what it gave is in the library.
  await page.getByRole('link', { name: 'Library' }).click();
  await expect(page).toHaveURL(/\/library$/);
  const item = page.locator('li.library-item');
  await expect(item).toHaveCount(1);
  await expect(item.getByRole('heading')).toHaveText('Field Recordings, Vol. 1');
  const downloading = page.waitForEvent('download');
  await item.getByRole('link', { name: 'Download' }).click();
  const download = await downloading;
  expect(download.suggestedFilename()).toBe('field-recordings-vol-1.wav');
  const saved = await download.path();
  const bytes = readFileSync(saved!);
  expect(bytes.subarray(0, 4).toString('latin1')).toBe('RIFF');
  expect(bytes.length).toBeGreaterThan(100_000);

  // Signed out, the account page shows nothing of it.
  await page.getByRole('link', { name: 'Your account' }).click();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/$/);
  await page.goto('/account');
  await expect(page.getByText('Please sign in')).toBeVisible();
  await expect(page.locator('table.orders')).toHaveCount(0);
});

test('a wrong password and an unknown email get the same plain message', async ({ page }) => {
  await page.goto('/sign-in');
  const form = page.getByRole('form', { name: 'Sign in' });
  const error = form.locator('p.form-error');
  const messages: string[] = [];
  for (const email of [address('nobody'), address('nobody-else')]) {
    await form.getByLabel('Email').fill(email);
    await form.getByLabel('Password').fill('not the password');
    await form.getByRole('button', { name: 'Sign in' }).click();
    // A plain form: the browser comes back to the sign-in page, which shows why.
    await expect(page).toHaveURL(/\/sign-in\?/);
    await expect(error).not.toBeEmpty();
    messages.push((await error.textContent()) ?? '');
  }
  expect(messages[0]).toBe('That email and password do not match an account.');
  expect(messages[1]).toBe(messages[0]);
});

/** Signs up with `email` and follows the mailed link: the page ends signed in at /account. */
test('credits bought with a pack unlock a file, and the receipt refunds only the unspent part', async ({ page }) => {
  const email = address('credits');
  await signUpAndVerify(page, email);
  const balance = page.locator('.site-header .balance');
  await expect(balance).toHaveText('0 credits');

  await openProduct(page, 'api-credits-1000');
  await fillCheckout(page, { email, card: CARDS.ok });
  await checkout(page).payButton.click();
  const packOrder = await orderIdFromUrl(page);
  await expect(orderPage(page).status).toHaveText('Paid');

  await page.goto('/products/field-recordings-vol-1');
  await expect(balance).toHaveText('1,000 credits');
  await page.getByRole('button', { name: 'Unlock for 400 credits' }).click();
  await expect(page).toHaveURL(/\/library$/);
  // The pack is there too: a library lists everything an account got.
  await expect(page.locator('li.library-item').getByRole('heading', { name: 'Field Recordings, Vol. 1' })).toBeVisible();
  await expect(balance).toHaveText('600 credits');

  await page.goto(`/account/orders/${packOrder}`);
  await expect(page.getByText("You have used 400 of this pack's 1,000 credits")).toBeVisible();
  await page.getByRole('button', { name: 'Request a refund of €5.40' }).click();
  await expect(page).toHaveURL(new RegExp(`/account/orders/${packOrder}\\?refund=done$`));
  await expect(page.getByRole('status').filter({ hasText: 'Refunded.' })).toBeVisible();
  await expect(page.locator('dd.status')).toHaveText('Partially refunded (€5.40 refunded)');
  await expect(balance).toHaveText('0 credits');
  // Printed, the receipt is the document alone.
  await page.emulateMedia({ media: 'print' });
  await expect(page.locator('.site-header')).toBeHidden();
  await expect(page.locator('.refund-panel')).toBeHidden();
  await expect(page.locator('.receipt dd.order-id')).toHaveText(packOrder);
  await page.emulateMedia({ media: 'screen' });
  // The unlocked file stays: its credits were spent before the refund.
  await page.goto('/library');
  await expect(page.locator('li.library-item').getByRole('heading', { name: 'Field Recordings, Vol. 1' })).toBeVisible();
});

test('a free product is added to the library without paying', async ({ page }) => {
  await signUpAndVerify(page, address('free'));
  await page.goto('/products/harbour-sampler');
  await expect(page.locator('.product .price')).toHaveText('Free');
  await page.getByRole('button', { name: 'Add to library' }).click();
  await expect(page).toHaveURL(/\/library$/);
  const item = page.locator('li.library-item');
  await expect(item.getByRole('heading')).toHaveText('Harbour Sampler');
  const downloading = page.waitForEvent('download');
  await item.getByRole('link', { name: 'Download' }).click();
  expect((await downloading).suggestedFilename()).toBe('harbour-sampler.wav');
});
