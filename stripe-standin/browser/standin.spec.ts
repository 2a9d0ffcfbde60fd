// Browser tests of the Stripe stand-in: its Stripe.js (/v3/) and Payment Element, driven
// through the stand-in's demo page, with outcomes checked against its server-side API.
//
// The stand-in binary is started by this file (beforeAll) and stopped afterwards. It is
// `<repo>/target/debug/stripe-standin` unless STANDIN_BIN names another one.
import { test, expect, type Page } from '@playwright/test';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const SECRET_KEY = 'sk_test_standin';
const PUBLISHABLE_KEY = 'pk_test_standin';

const CARD_OK = '4242 4242 4242 4242';
const CARD_DECLINED = '4000 0000 0000 0002';
const CARD_INSUFFICIENT_FUNDS = '4000 0000 0000 9995';
const CARD_3DS = '4000 0025 0000 3155';

let server: ChildProcess | undefined;
let serverOutput = '';
let tmpDir = '';
let base = '';

test.beforeAll(async () => {
  const bin = process.env.STANDIN_BIN || path.resolve(__dirname, '..', '..', 'target', 'debug', 'stripe-standin');
  if (!existsSync(bin)) {
    throw new Error(`stripe-standin not found at ${bin}: run \`cargo build -p stripe-standin\` first (or set STANDIN_BIN).`);
  }
  tmpDir = mkdtempSync(path.join(tmpdir(), 'stripe-standin-'));
  const portFile = path.join(tmpDir, 'port');
  const child = spawn(bin, ['--port', '0', '--port-file', portFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  server = child;
  child.stdout?.on('data', (chunk) => { serverOutput += chunk; });
  child.stderr?.on('data', (chunk) => { serverOutput += chunk; });
  let exit: string | null = null;
  child.on('exit', (code, signal) => { exit = `exited (${code ?? signal})`; });

  // Wait for the port file, then for the server to answer.
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exit) throw new Error(`stripe-standin ${exit} before it was ready. Output:\n${serverOutput}`);
    if (Date.now() > deadline) throw new Error(`stripe-standin was not ready within 30 s. Output:\n${serverOutput}`);
    let port = '';
    try {
      port = readFileSync(portFile, 'utf8').trim();
    } catch {
      // not written yet
    }
    if (/^\d+$/.test(port)) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/v3/`);
        if (res.ok) {
          base = `http://127.0.0.1:${port}`;
          return;
        }
      } catch {
        // not accepting yet
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 50)); // poll interval
  }
});

test.afterAll(async () => {
  const child = server;
  server = undefined;
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
  if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
});

type PaymentIntent = { id: string; client_secret: string; status: string; [key: string]: unknown };

async function createPaymentIntent(currency = 'usd'): Promise<PaymentIntent> {
  const res = await fetch(`${base}/v1/payment_intents`, {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${SECRET_KEY}`,
      'Content-Type': 'application/x-www-form-urlencoded',
    },
    body: `amount=1999&currency=${currency}&automatic_payment_methods[enabled]=true`,
  });
  const body = await res.json();
  expect(res.status, JSON.stringify(body)).toBe(200);
  expect(body.client_secret).toMatch(/^pi_\w+_secret_\w+$/);
  return body as PaymentIntent;
}

type RequestRecord = { method: string; path: string; status: number };

/** Every API request the stand-in has answered, oldest first. */
async function standinRequests(): Promise<RequestRecord[]> {
  const res = await fetch(`${base}/_standin/requests`);
  expect(res.status).toBe(200);
  return (await res.json()) as RequestRecord[];
}

async function fetchPaymentIntent(id: string): Promise<PaymentIntent> {
  const res = await fetch(`${base}/v1/payment_intents/${id}`, {
    headers: { Authorization: `Bearer ${SECRET_KEY}` },
  });
  const body = await res.json();
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body as PaymentIntent;
}

async function openDemo(page: Page, clientSecret: string, extraQuery = ''): Promise<void> {
  const query = `pk=${PUBLISHABLE_KEY}&client_secret=${encodeURIComponent(clientSecret)}${extraQuery}`;
  await page.goto(`${base}/_standin/demo?${query}`);
  await expect(page.getByLabel('Card number')).toBeVisible();
  // `ready` fires once the element has checked the client secret with the stand-in.
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true');
}

async function fillCard(page: Page, number: string, expiry = '12 / 34', cvc = '123'): Promise<void> {
  await page.getByLabel('Card number').fill(number);
  await page.getByLabel('Expiration date').fill(expiry);
  await page.getByLabel('Security code').fill(cvc);
}

async function pay(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Pay' }).click();
}

const result = (page: Page) => page.getByRole('status');

test('paying with 4242 4242 4242 4242 succeeds', async ({ page }) => {
  const pi = await createPaymentIntent();
  await openDemo(page, pi.client_secret);
  await fillCard(page, CARD_OK);
  await pay(page);
  await expect(result(page)).toHaveText('succeeded');
  expect((await fetchPaymentIntent(pi.id)).status).toBe('succeeded');
});

test('a declined card shows "Your card was declined." and the same PaymentIntent then succeeds with 4242', async ({ page }) => {
  const pi = await createPaymentIntent();
  await openDemo(page, pi.client_secret);
  await fillCard(page, CARD_DECLINED);
  await pay(page);
  await expect(result(page)).toHaveText('Your card was declined.');
  expect((await fetchPaymentIntent(pi.id)).status).toBe('requires_payment_method');

  await page.getByLabel('Card number').fill(CARD_OK);
  await pay(page);
  await expect(result(page)).toHaveText('succeeded');
  expect((await fetchPaymentIntent(pi.id)).status).toBe('succeeded');
});

test('4000 0000 0000 9995 shows the insufficient funds message', async ({ page }) => {
  const pi = await createPaymentIntent();
  await openDemo(page, pi.client_secret);
  await fillCard(page, CARD_INSUFFICIENT_FUNDS);
  await pay(page);
  await expect(result(page)).toHaveText('Your card has insufficient funds.');
  await expect(result(page)).toHaveAttribute('data-error-type', 'card_error');
  await expect(result(page)).toHaveAttribute('data-error-code', 'card_declined');
  await expect(result(page)).toHaveAttribute('data-decline-code', 'insufficient_funds');
  expect((await fetchPaymentIntent(pi.id)).status).toBe('requires_payment_method');
});

test('4000 0025 0000 3155 opens the 3D Secure dialog and "Complete" makes the payment succeed', async ({ page }) => {
  const pi = await createPaymentIntent();
  await openDemo(page, pi.client_secret);
  await fillCard(page, CARD_3DS);
  await pay(page);
  const dialog = page.getByRole('dialog', { name: '3D Secure authentication' });
  await expect(dialog).toBeVisible();
  await expect(dialog).toContainText('Test authentication for this payment');
  await dialog.getByRole('button', { name: 'Complete', exact: true }).click();
  await expect(result(page)).toHaveText('succeeded');
  await expect(dialog).toHaveCount(0);
  expect((await fetchPaymentIntent(pi.id)).status).toBe('succeeded');
});

test('failing 3D Secure shows the authentication failure message and leaves the PaymentIntent requires_payment_method', async ({ page }) => {
  const pi = await createPaymentIntent();
  await openDemo(page, pi.client_secret);
  await fillCard(page, CARD_3DS);
  await pay(page);
  const dialog = page.getByRole('dialog', { name: '3D Secure authentication' });
  await dialog.getByRole('button', { name: 'Fail', exact: true }).click();
  await expect(result(page)).toHaveText(
    'We are unable to authenticate your payment method. Please choose a different payment method and try again.',
  );
  await expect(result(page)).toHaveAttribute('data-error-code', 'payment_intent_authentication_failure');
  await expect(dialog).toHaveCount(0);
  const after = await fetchPaymentIntent(pi.id);
  expect(after.status).toBe('requires_payment_method');
  expect((after.last_payment_error as { code?: string } | null)?.code).toBe('payment_intent_authentication_failure');
});

test('an incomplete card number shows a validation error and makes no confirm request', async ({ page }) => {
  const pi = await createPaymentIntent();
  await openDemo(page, pi.client_secret);
  const apiWrites: string[] = [];
  page.on('request', (request) => {
    if (request.method() === 'POST' && /\/v1\/(payment_methods|payment_intents\/[^/]+\/confirm)/.test(request.url())) {
      apiWrites.push(request.url());
    }
  });
  await fillCard(page, '4242 4242');
  await pay(page);
  await expect(page.getByRole('alert')).toHaveText('Your card number is incomplete.');
  await expect(result(page)).toHaveAttribute('data-error-type', 'validation_error');
  await expect(result(page)).toHaveAttribute('data-error-code', 'incomplete_number');
  await expect(result(page)).toHaveText('Your card number is incomplete.');
  await expect(page.getByLabel('Card number')).toHaveAttribute('aria-invalid', 'true');
  expect(apiWrites).toEqual([]);
  expect((await fetchPaymentIntent(pi.id)).status).toBe('requires_payment_method');
});

test('the card fields format what is typed or filled', async ({ page }) => {
  const pi = await createPaymentIntent();
  await openDemo(page, pi.client_secret);
  const number = page.getByLabel('Card number');
  const expiry = page.getByLabel('Expiration date');
  const cvc = page.getByLabel('Security code');

  await number.pressSequentially('4000002500003155');
  await expect(number).toHaveValue('4000 0025 0000 3155');
  await number.fill('42424242424242429999');
  await expect(number).toHaveValue('4242 4242 4242 4242');

  await expiry.pressSequentially('1234');
  await expect(expiry).toHaveValue('12 / 34');
  await expiry.fill('0');
  await expiry.press('End');
  await expiry.pressSequentially('9');
  await expect(expiry).toHaveValue('09 / ');
  await expiry.press('Backspace');
  await expect(expiry).toHaveValue('09');
  await expiry.fill('12/2034');
  await expect(expiry).toHaveValue('12 / 34');

  await cvc.fill('12a34');
  await expect(cvc).toHaveValue('123');
});

test('redirect: "always" sends the browser to return_url with the PaymentIntent in the query', async ({ page }) => {
  const pi = await createPaymentIntent();
  const returnUrl = `${base}/_standin/demo?pk=${PUBLISHABLE_KEY}`;
  await openDemo(page, pi.client_secret, `&redirect=always&return_url=${encodeURIComponent(returnUrl)}`);
  await fillCard(page, CARD_OK);
  await pay(page);
  await page.waitForURL(/redirect_status=/);
  const url = new URL(page.url());
  expect(url.searchParams.get('payment_intent')).toBe(pi.id);
  expect(url.searchParams.get('payment_intent_client_secret')).toBe(pi.client_secret);
  expect(url.searchParams.get('redirect_status')).toBe('succeeded');
  await expect(result(page)).toHaveText('succeeded'); // the return page reads the intent back
});

test('Stripe() refuses a secret key and the PaymentIntent stays private to its client secret', async ({ page }) => {
  const pi = await createPaymentIntent();
  await openDemo(page, pi.client_secret);
  const message = await page.evaluate(() => {
    try {
      (window as unknown as { Stripe: (key: string) => unknown }).Stripe('sk_test_standin');
      return 'no error';
    } catch (e) {
      return `${(e as Error).name}: ${(e as Error).message}`;
    }
  });
  expect(message).toMatch(/^IntegrationError: .*secret/i);

  const wrongSecret = `${pi.id}_secret_wrong`;
  const outcome = await page.evaluate(async ([pk, secret]) => {
    const stripe = (window as any).Stripe(pk);
    const r = await stripe.retrievePaymentIntent(secret);
    return r.error ? `error:${r.error.type}:${r.error.code}` : `ok:${r.paymentIntent.status}`;
  }, [PUBLISHABLE_KEY, wrongSecret]);
  expect(outcome).toBe('error:invalid_request_error:payment_intent_invalid_parameter');
});

test('confirmCardPayment without handling actions, then handleNextAction, runs the 3D Secure dialog', async ({ page }) => {
  const pi = await createPaymentIntent();
  await openDemo(page, pi.client_secret);
  const confirmed = await page.evaluate(async ([pk, secret]) => {
    const body = new URLSearchParams({
      key: pk,
      type: 'card',
      'card[number]': '4000002500003155',
      'card[exp_month]': '12',
      'card[exp_year]': '2034',
      'card[cvc]': '123',
    });
    const pm = await (await fetch('/v1/payment_methods', { method: 'POST', body })).json();
    const stripe = (window as any).Stripe(pk);
    const r = await stripe.confirmCardPayment(secret, { payment_method: pm.id }, { handleActions: false });
    // Leave the next step running: it waits for the dialog.
    (window as any).nextAction = stripe.handleNextAction({ clientSecret: secret });
    return r.error ? `error:${r.error.message}` : r.paymentIntent.status;
  }, [PUBLISHABLE_KEY, pi.client_secret]);
  expect(confirmed).toBe('requires_action');

  const dialog = page.getByRole('dialog', { name: '3D Secure authentication' });
  await dialog.getByRole('button', { name: 'Complete', exact: true }).click();
  const outcome = await page.evaluate(async () => {
    const r = await (window as any).nextAction;
    return r.error ? `error:${r.error.message}` : r.paymentIntent.status;
  });
  expect(outcome).toBe('succeeded');
  await expect(dialog).toHaveCount(0);
  expect((await fetchPaymentIntent(pi.id)).status).toBe('succeeded');
});

test('submitting twice at once confirms the PaymentIntent only once', async ({ page }) => {
  const pi = await createPaymentIntent();
  await openDemo(page, pi.client_secret);
  const confirms: string[] = [];
  page.on('request', (request) => {
    if (request.method() === 'POST' && /\/confirm$/.test(new URL(request.url()).pathname)) confirms.push(request.url());
  });
  await fillCard(page, CARD_OK);
  const before = (await standinRequests()).length;
  await page.evaluate(() => {
    const form = document.getElementById('payment-form') as HTMLFormElement;
    form.requestSubmit();
    form.requestSubmit();
  });
  await expect(result(page)).toHaveText('succeeded');
  // A second submit would send its own card and then its own confirm, each right after the
  // other; once the page has had no request open for half a second, both would have been sent.
  await page.waitForLoadState('networkidle');
  const confirmed = (await standinRequests()).slice(before).filter((r) => r.method === 'POST' && /\/confirm$/.test(r.path));
  expect(confirmed).toHaveLength(1);
  expect(confirms).toHaveLength(1);
});

test('a Payment Element mounted before any intent exists pays the intent made afterwards, once elements.submit() has checked it', async ({ page }) => {
  await openDemo(page, (await createPaymentIntent()).client_secret);
  const refused = await page.evaluate((pk) => {
    const stripe = (window as any).Stripe(pk);
    const tries = [
      { mode: 'payment', amount: 19.99, currency: 'usd' },
      { mode: 'payment', amount: 1999, currency: 'USD' },
      { mode: 'payment', currency: 'usd' },
      // Accepted by elements(), as by Stripe.js; a Payment Element needs an intent or a mode.
      {},
    ];
    return tries.map((options) => {
      try {
        stripe.elements(options).create('payment');
        return 'accepted';
      } catch (e) {
        return (e as Error).name;
      }
    });
  }, PUBLISHABLE_KEY);
  expect(refused).toEqual(['IntegrationError', 'IntegrationError', 'IntegrationError', 'IntegrationError']);

  await page.evaluate((pk) => {
    const host = document.createElement('div');
    host.id = 'deferred';
    document.body.prepend(host);
    const stripe = (window as any).Stripe(pk);
    const elements = stripe.elements({ mode: 'payment', amount: 1999, currency: 'usd' });
    elements.create('payment').mount('#deferred');
    (window as any).deferred = { stripe, elements };
  }, PUBLISHABLE_KEY);
  const form = page.locator('#deferred');
  await form.getByLabel('Card number').fill(CARD_OK);
  await form.getByLabel('Expiration date').fill('12 / 34');
  await form.getByLabel('Security code').fill('123');

  // The intent is made once the shopper pays, as the shop's server does.
  const pi = await createPaymentIntent();
  const confirm = (secret: string, submitFirst: boolean) =>
    page.evaluate(async ([secret, submitFirst]) => {
      const { stripe, elements } = (window as any).deferred;
      try {
        if (submitFirst) {
          const submitted = await elements.submit();
          if (submitted.error) return `submit: ${submitted.error.message}`;
        }
        const r = await stripe.confirmPayment({ elements, clientSecret: secret, redirect: 'if_required' });
        return r.error ? `error: ${r.error.message}` : r.paymentIntent.status;
      } catch (e) {
        return `${(e as Error).name}: ${(e as Error).message}`;
      }
    }, [secret, submitFirst] as const);

  expect(await confirm(pi.client_secret, false)).toMatch(/^IntegrationError: .*elements\.submit\(\) must be called/);
  expect((await fetchPaymentIntent(pi.id)).status).toBe('requires_payment_method');
  // An intent in another currency than the group's is refused before anything is charged.
  const euros = await createPaymentIntent('eur');
  expect(await confirm(euros.client_secret, true)).toMatch(/^IntegrationError: .*currency/);
  expect((await fetchPaymentIntent(euros.id)).status).toBe('requires_payment_method');
  expect(await confirm(pi.client_secret, true)).toBe('succeeded');
  expect((await fetchPaymentIntent(pi.id)).status).toBe('succeeded');
});
