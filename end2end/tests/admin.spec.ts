// The seller's side in Chromium: a shopper is refused at every admin page and server function;
// an admin made on the command line uploads a PDF with a preview and publishes it, and a
// shopper buys it and downloads the same bytes; a file that is not a PDF is refused; and a
// partial refund from the admin shows in the shopper's history, the file gone from the library.
import { readFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';

import { address, createAdmin, signIn, signUpAndVerify } from './support/accounts';
import { CARDS, checkout, expect, fillCheckout, openProduct, orderIdFromUrl, orderPage, test } from './support/shop';

test.describe.configure({ timeout: 90_000 });

const ADMIN_PAGES = [
  '/admin',
  '/admin/products',
  '/admin/products/new',
  '/admin/products/field-recordings-vol-1',
  '/admin/orders',
  '/admin/orders?status=paid',
  '/admin/events',
];
const ADMIN_FUNCTIONS: [string, Record<string, string>][] = [
  ['admin_overview', {}],
  ['admin_orders', {}],
  ['admin_order', { order_id: 'ord_aaaaaaaaaaaaaaaaaaaaaaaaaa' }],
  ['admin_events', {}],
  ['admin_refund', { order_id: 'ord_aaaaaaaaaaaaaaaaaaaaaaaaaa', amount: '1.00', key: 'aaaaaaaaaaaaaaaaaaaaaaaa' }],
  ['admin_retry_event', { event_id: 'evt_1' }],
  ['admin_products', {}],
  ['admin_save_product', { title: 'Mine', slug: 'mine', kind: 'download', price: '1.00', currency: 'usd' }],
  ['admin_product_state', { slug: 'field-recordings-vol-1', state: 'unpublished' }],
];

test('a shopper is refused at every admin page and server function', async ({ page }) => {
  await signUpAndVerify(page, address('notstaff'));
  await expect(page.getByRole('link', { name: 'Admin' })).toHaveCount(0);
  for (const path of ADMIN_PAGES) {
    const response = await page.goto(path);
    expect(response?.status(), path).toBe(403);
    await expect(page.getByText("This page is for the shop's staff.")).toBeVisible();
  }
  for (const [name, form] of ADMIN_FUNCTIONS) {
    const response = await page.request.post(`/api/${name}`, { form });
    expect(response.status(), name).toBe(403);
  }
});

test('an admin refunds part of an order: the shopper sees it in their history and the file leaves the library', async ({ page, browser, shop }) => {
  const shopperEmail = address('refunded');
  await signUpAndVerify(page, shopperEmail);
  await openProduct(page, 'field-recordings-vol-1');
  await fillCheckout(page, { email: shopperEmail, card: CARDS.ok });
  await checkout(page).payButton.click();
  const orderId = await orderIdFromUrl(page);
  await expect(orderPage(page).status).toHaveText('Paid');

  const adminEmail = address('staff');
  createAdmin(shop, adminEmail);
  const staffContext = await browser.newContext({ baseURL: shop.baseURL });
  const staff = await staffContext.newPage();
  await signIn(staff, adminEmail);
  await staff.getByRole('link', { name: 'Admin' }).click();
  await expect(staff.getByRole('heading', { name: 'Overview' })).toBeVisible();
  // Other specs sell in this shop too: the figures' sums are checked by the server's tests.
  await expect(staff.locator('.sales[data-currency="usd"] svg.chart')).toBeVisible();

  await staff.getByRole('navigation', { name: 'Admin' }).getByRole('link', { name: 'Orders' }).click();
  const filter = staff.getByRole('form', { name: 'Filter orders' });
  await filter.getByLabel('Email').fill(shopperEmail);
  await filter.getByRole('button', { name: 'Filter' }).click();
  const rows = staff.locator('table.orders tbody tr');
  await expect(rows).toHaveCount(1);
  await rows.getByRole('link', { name: orderId }).click();
  await expect(staff.getByRole('heading', { name: `Order ${orderId}` })).toBeVisible();
  await expect(staff.getByText('payment_intent.succeeded')).toBeVisible();

  const refund = staff.getByRole('form', { name: 'Refund' });
  await refund.getByLabel(/Amount/).fill('5.00');
  await refund.getByLabel(/remove it from the buyer's library/).check();
  await refund.getByRole('button', { name: 'Refund' }).click();
  await expect(staff.getByRole('status')).toHaveText('Refunded.');
  await expect(staff.locator('dd.status')).toHaveText('Partially refunded');
  await expect(staff.locator('dd.refunded')).toHaveText('$5.00');
  await expect(staff.locator('table.refunds')).toContainText(adminEmail);

  await page.goto('/account');
  await expect(page.locator('table.orders tbody tr')).toContainText('Partially refunded ($5.00 refunded)');
  await page.goto('/library');
  await expect(page.locator('li.library-item')).toHaveCount(0);
  await staffContext.close();
});

/** A small PNG of one colour, `width` by `height`, made here so the test needs no fixture file. */
function png(width: number, height: number): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf: Buffer) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc(body), 8 + data.length);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // truecolour
  const row = Buffer.concat([Buffer.from([0]), Buffer.alloc(width * 3, 0x4f)]);
  const pixels = Buffer.concat(Array.from({ length: height }, () => row));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(pixels)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

test('an admin uploads a PDF with a preview and publishes it; a shopper buys it and downloads the same bytes', async ({ page, browser, shop }) => {
  const adminEmail = address('seller');
  createAdmin(shop, adminEmail);
  const staffContext = await browser.newContext({ baseURL: shop.baseURL });
  const staff = await staffContext.newPage();
  await signIn(staff, adminEmail);
  await staff.goto('/admin/products');
  await staff.getByRole('link', { name: 'New product' }).click();

  const details = staff.getByRole('form', { name: 'Product details' });
  await details.getByLabel('Title').fill('Harbour Field Guide');
  await details.getByLabel('Address (/products/…)').fill('harbour-field-guide');
  await details.getByLabel('Description (Markdown)').fill('A guide to **harbour sounds**.\n\n<script>window.hacked = true</script>');
  await details.getByLabel('Price (0 for free)').fill('6.50');
  await details.getByRole('button', { name: 'Create product' }).click();
  await expect(staff).toHaveURL(/\/admin\/products\/harbour-field-guide\?saved=1$/);
  await expect(staff.getByRole('status')).toHaveText('Saved.');

  // Not a PDF, though it says so: refused, and nothing is attached.
  const fileForm = staff.getByRole('form', { name: 'Upload the file' });
  await fileForm.getByLabel(/File buyers download/).setInputFiles({
    name: 'guide.pdf',
    mimeType: 'application/pdf',
    buffer: Buffer.from('PK\x03\x04 this is a zip archive'),
  });
  await fileForm.getByRole('button', { name: 'Upload file' }).click();
  await expect(staff.getByRole('alert').filter({ hasText: 'a .pdf must be a PDF' })).toBeVisible();
  await expect(staff.locator('p.file')).toHaveText('No file yet.');

  const pdf = Buffer.concat([Buffer.from('%PDF-1.7\n'), Buffer.alloc(200_000, 7)]);
  await staff.getByRole('form', { name: 'Upload the file' }).getByLabel(/File buyers download/).setInputFiles({
    name: 'harbour-guide.pdf',
    mimeType: 'application/pdf',
    buffer: pdf,
  });
  await staff.getByRole('form', { name: 'Upload the file' }).getByRole('button', { name: 'Upload file' }).click();
  await expect(staff.getByRole('status')).toHaveText('The file is uploaded.');
  await expect(staff.locator('p.file')).toContainText('harbour-guide.pdf (application/pdf');

  await staff.getByRole('form', { name: 'Upload a preview' }).getByLabel(/Preview image/).setInputFiles({
    name: 'cover.png',
    mimeType: 'image/png',
    buffer: png(1600, 900),
  });
  await staff.getByRole('form', { name: 'Upload a preview' }).getByRole('button', { name: 'Upload preview' }).click();
  await expect(staff.getByRole('status')).toHaveText('The preview is uploaded.');
  await staff.getByRole('button', { name: 'Publish' }).click();
  await expect(staff.locator('p.state')).toContainText('Published');

  // A shopper finds it, sees its preview and description (without the script), and buys it.
  const shopperEmail = address('reader');
  await signUpAndVerify(page, shopperEmail);
  await page.goto('/');
  await page.getByRole('link', { name: 'Harbour Field Guide' }).click();
  await expect(page.locator('.description strong')).toHaveText('harbour sounds');
  expect(await page.evaluate(() => (window as unknown as { hacked?: boolean }).hacked)).toBeUndefined();
  const preview = page.locator('article.product img.preview');
  await expect(preview).toBeVisible();
  expect(await preview.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(1200);
  await fillCheckout(page, { email: shopperEmail, card: CARDS.ok });
  await checkout(page).payButton.click();
  await orderIdFromUrl(page);
  await expect(orderPage(page).status).toHaveText('Paid');

  await page.goto('/library');
  const item = page.locator('li.library-item').filter({ hasText: 'Harbour Field Guide' });
  const downloading = page.waitForEvent('download');
  await item.getByRole('link', { name: 'Download' }).click();
  const download = await downloading;
  expect(download.suggestedFilename()).toBe('harbour-guide.pdf');
  expect(readFileSync((await download.path())!).equals(pdf)).toBe(true);
  await staffContext.close();
});
