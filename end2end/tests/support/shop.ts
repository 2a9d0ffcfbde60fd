// Support for the shop's browser tests: a worker fixture that runs one complete shop (its own
// Postgres database, its own Stripe stand-in, the `server` binary) for the spec files that use
// it, plus small helpers for the checkout form and for reading the stand-in's records.
//
// Binaries: `<repo>/target/debug/stripe-standin` and `<repo>/target/debug/server`, unless
// STANDIN_BIN / SERVER_BIN name others. The site assets (target/site/pkg) must already be built
// (`bash scripts/build-site.sh debug`). Postgres is reached as postgres@127.0.0.1 (trust auth).
import { test as base, expect, type Locator, type Page } from '@playwright/test';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

// Where the repository is; scripts/repeat-tests.sh runs a copy of these specs from elsewhere.
export const REPO_ROOT = process.env.REPO_ROOT || path.resolve(__dirname, '..', '..', '..');
const LOG_DIR = path.resolve(__dirname, '..', '..', 'test-results', 'shop-logs');

export const SECRET_KEY = 'sk_test_e2e';
export const PUBLISHABLE_KEY = 'pk_test_e2e';
export const WEBHOOK_SECRET = 'whsec_e2e';

export const CARDS = {
  ok: '4242 4242 4242 4242',
  declined: '4000 0000 0000 0002',
  insufficientFunds: '4000 0000 0000 9995',
  threeDS: '4000 0025 0000 3155',
} as const;

/** The public id of an order as it appears in `/orders/{id}`. */
export const ORDER_URL = /\/orders\/(ord_[a-z0-9]{26})$/;

export type Shop = {
  /** `http://127.0.0.1:<port>` of the shop. */
  baseURL: string;
  /** `http://127.0.0.1:<port>` of its Stripe stand-in. */
  standinURL: string;
  database: string;
  shopLog: string;
  standinLog: string;
};

export type Intent = {
  id: string;
  amount: number;
  currency: string;
  status: string;
  metadata: Record<string, string>;
  [key: string]: unknown;
};

export type ApiRequest = {
  id: string;
  method: string;
  path: string;
  status: number;
  idempotency_key: string | null;
  replayed: boolean;
  key_kind: string;
};

// ---------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------

function binary(envName: string, name: string): string {
  const bin = process.env[envName] || path.join(REPO_ROOT, 'target', 'debug', name);
  if (!existsSync(bin)) {
    throw new Error(`${name} not found at ${bin}: build it with \`cargo build --bin ${name}\` (or set ${envName}).`);
  }
  return bin;
}

function psql(sql: string): void {
  execFileSync('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', sql], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Changes the shop's stand-in's settings (`/_standin/config`), e.g. `processing_ms`. */
export async function standinConfig(shop: Shop, body: object): Promise<void> {
  const res = await fetch(`${shop.standinURL}/_standin/config`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`stand-in config ${JSON.stringify(body)}: ${res.status}`);
}

/** Runs `sql` in the shop's own database, as a seller's change would reach it. */
export function sqlInShop(shop: Shop, sql: string): void {
  execFileSync('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', shop.database, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', sql], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** A port that was free a moment ago: bind port 0, note what the kernel picked, let it go. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('could not pick a free port'))));
    });
  });
}

function tail(file: string, lines = 60): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

type Running = { child: ChildProcess; exited: () => string | null };

/** Starts `bin` with its stdout and stderr appended to `logFile`. */
function launch(bin: string, args: string[], env: NodeJS.ProcessEnv, logFile: string): Running {
  const fd = openSync(logFile, 'a');
  const child = spawn(bin, args, { cwd: REPO_ROOT, env, stdio: ['ignore', fd, fd] });
  closeSync(fd); // the child holds its own copy
  let exit: string | null = null;
  child.on('exit', (code, signal) => {
    exit = `exited (${code ?? signal})`;
  });
  child.on('error', (e) => {
    exit = `failed to start (${e.message})`;
  });
  return { child, exited: () => exit };
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await gone;
  clearTimeout(timer);
}

/** Polls `check` until it returns a value, the process dies, or `ms` pass. */
async function waitFor<T>(what: string, proc: Running, log: string, ms: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const exit = proc.exited();
    if (exit) throw new Error(`${what} ${exit} before it was ready. Last lines of ${log}:\n${tail(log)}`);
    if (Date.now() > deadline) throw new Error(`${what} was not ready within ${ms / 1000} s. Last lines of ${log}:\n${tail(log)}`);
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 100)); // poll interval
  }
}

/**
 * Runs a whole shop; resolves once `/healthz` answers. Call the returned `shutdown` afterwards.
 * `env` adds settings, e.g. a low `CHECKOUT_STARTS_PER_MINUTE`.
 */
export async function startShop(env: Record<string, string> = {}): Promise<{ shop: Shop; shutdown: () => Promise<void> }> {
  const standinBin = binary('STANDIN_BIN', 'stripe-standin');
  const serverBin = binary('SERVER_BIN', 'server');
  if (!existsSync(path.join(REPO_ROOT, 'target', 'site', 'pkg', 'storefront.js'))) {
    throw new Error('target/site/pkg/storefront.js is missing: run `bash scripts/build-site.sh debug` first.');
  }

  const prefix = process.env.TEST_DATABASE_PREFIX ? `${process.env.TEST_DATABASE_PREFIX}e2e_` : 'sf_e2e_';
  const database = `${prefix}${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  mkdirSync(LOG_DIR, { recursive: true });
  const shopLog = path.join(LOG_DIR, `${database}.server.log`);
  const standinLog = path.join(LOG_DIR, `${database}.standin.log`);
  const tmp = mkdtempSync(path.join(tmpdir(), 'sf-e2e-'));
  let standin: Running | undefined;
  let server: Running | undefined;
  let created = false;

  const shutdown = async () => {
    await stop(server?.child);
    await stop(standin?.child);
    if (created) {
      try {
        psql(`drop database if exists ${database} with (force)`);
      } catch (e) {
        console.warn(`could not drop database ${database}: ${(e as Error).message}`);
      }
    }
    rmSync(tmp, { recursive: true, force: true });
  };

  try {
    psql(`create database ${database}`);
    created = true;

    const shopPort = await freePort();
    const portFile = path.join(tmp, 'standin-port');
    standin = launch(
      standinBin,
      [
        '--port', '0',
        '--port-file', portFile,
        '--webhook-url', `http://127.0.0.1:${shopPort}/webhooks/stripe`,
        '--webhook-secret', WEBHOOK_SECRET,
        '--retry-base-ms', '200',
      ],
      { ...process.env },
      standinLog,
    );
    const standinURL = await waitFor('stripe-standin', standin, standinLog, 30_000, async () => {
      const port = existsSync(portFile) ? readFileSync(portFile, 'utf8').trim() : '';
      if (!/^\d+$/.test(port)) return undefined;
      const res = await fetch(`http://127.0.0.1:${port}/v3/`);
      return res.ok ? `http://127.0.0.1:${port}` : undefined;
    });

    server = launch(
      serverBin,
      [],
      {
        ...process.env,
        DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${database}`,
        STRIPE_SECRET_KEY: SECRET_KEY,
        STRIPE_PUBLISHABLE_KEY: PUBLISHABLE_KEY,
        STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
        STRIPE_API_BASE: `${standinURL}/`,
        STRIPE_JS_URL: `${standinURL}/v3/`,
        LEPTOS_SITE_ADDR: `127.0.0.1:${shopPort}`,
        STORAGE_DIR: path.join(tmp, 'files'),
        RUST_LOG: 'info',
        // Mail goes to the catcher scripts/test.sh runs, when there is one.
        ...(process.env.MAIL_CATCHER_SMTP ? { SMTP_URL: process.env.MAIL_CATCHER_SMTP } : {}),
        ...env,
      },
      shopLog,
    );
    const baseURL = `http://127.0.0.1:${shopPort}`;
    await waitFor('the shop (server)', server, shopLog, 60_000, async () => {
      const res = await fetch(`${baseURL}/healthz`);
      return res.status === 200 ? true : undefined;
    });
    return { shop: { baseURL, standinURL, database, shopLog, standinLog }, shutdown };
  } catch (e) {
    await shutdown();
    throw e;
  }
}

/** The `server` binary and the settings that point it at `shop`, for its operator commands. */
export function serverEnv(shop: Shop): { bin: string; env: NodeJS.ProcessEnv } {
  return {
    bin: binary('SERVER_BIN', 'server'),
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${shop.database}`,
      STRIPE_SECRET_KEY: SECRET_KEY,
      STRIPE_PUBLISHABLE_KEY: PUBLISHABLE_KEY,
      STRIPE_API_BASE: `${shop.standinURL}/`,
      RUST_LOG: 'warn',
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

/**
 * `test` with a `shop` worker fixture (one shop per worker, started on first use) and `baseURL`
 * pointing at it, so `page.goto('/')` opens the shop. When a test fails, the last lines of both
 * logs are attached to its report.
 */
export const test = base.extend<{ shopLogsOnFailure: void }, { shop: Shop }>({
  shop: [
    async ({}, use) => {
      // Every spec of a worker signs up and signs in from 127.0.0.1: the shop's allowance of
      // ten account attempts a minute per address (tested on its own by the server's tests)
      // would otherwise refuse the later specs as if they were guessing passwords.
      const { shop, shutdown } = await startShop({ ACCOUNT_ATTEMPTS_PER_MINUTE: '1000' });
      try {
        await use(shop);
      } finally {
        await shutdown();
      }
    },
    { scope: 'worker', timeout: 120_000 },
  ],
  baseURL: async ({ shop }, use) => {
    await use(shop.baseURL);
  },
  shopLogsOnFailure: [
    async ({ shop }, use, testInfo) => {
      await use();
      if (testInfo.status !== testInfo.expectedStatus) {
        await testInfo.attach('server.log (tail)', { body: tail(shop.shopLog, 200), contentType: 'text/plain' });
        await testInfo.attach('stripe-standin.log (tail)', { body: tail(shop.standinLog, 200), contentType: 'text/plain' });
      }
    },
    { auto: true },
  ],
});

export { expect };

// ---------------------------------------------------------------------------------------------
// The stand-in's records
// ---------------------------------------------------------------------------------------------

/** Every PaymentIntent the stand-in holds (newest first), read with the shop's secret key. */
export async function listIntents(shop: Shop): Promise<Intent[]> {
  const res = await fetch(`${shop.standinURL}/v1/payment_intents?limit=100`, {
    headers: { Authorization: `Bearer ${SECRET_KEY}` },
  });
  const body = await res.json();
  expect(res.status, JSON.stringify(body)).toBe(200);
  expect(body.has_more, 'more than 100 PaymentIntents: this helper reads only one page').toBeFalsy();
  return body.data as Intent[];
}

/** The PaymentIntents that were not in `before`. */
export async function intentsSince(shop: Shop, before: Intent[]): Promise<Intent[]> {
  const known = new Set(before.map((pi) => pi.id));
  return (await listIntents(shop)).filter((pi) => !known.has(pi.id));
}

/** The PaymentIntents the shop made for one order (by their `metadata.order_id`). */
export async function intentsForOrder(shop: Shop, orderId: string): Promise<Intent[]> {
  return (await listIntents(shop)).filter((pi) => pi.metadata?.order_id === orderId);
}

/** Every API call the stand-in has answered, oldest first. */
export async function standinRequests(shop: Shop): Promise<ApiRequest[]> {
  const res = await fetch(`${shop.standinURL}/_standin/requests`);
  expect(res.status).toBe(200);
  return (await res.json()) as ApiRequest[];
}

/** The API calls that were not in `before` (by request id: the stand-in trims its oldest entries). */
export async function requestsSince(shop: Shop, before: ApiRequest[]): Promise<ApiRequest[]> {
  const known = new Set(before.map((r) => r.id));
  return (await standinRequests(shop)).filter((r) => !known.has(r.id));
}

// ---------------------------------------------------------------------------------------------
// The checkout form
// ---------------------------------------------------------------------------------------------

export function checkout(page: Page) {
  const form = page.locator('form[aria-label="Checkout"]');
  return {
    form,
    email: form.getByLabel('Email for your receipt and downloads'),
    cardNumber: page.getByLabel('Card number'),
    expiry: page.getByLabel('Expiration date'),
    cvc: page.getByLabel('Security code'),
    /** Shown until the payment form is mounted. */
    loading: form.getByText('Loading the payment form…'),
    /** The submit button, whatever its label says at the moment ("Pay …" or "Paying …"). */
    payButton: form.locator('button[type="submit"]'),
    error: form.locator('p.form-error[role="alert"]'),
  };
}

/** Opens a product page and waits for the payment form. */
export async function openProduct(page: Page, slug: string): Promise<void> {
  await page.goto(`/products/${slug}`);
  await startPaying(page);
}

/** Waits until the browser has taken over the checkout form (an island), so what is typed or
 * clicked reaches the form's own code. */
export async function waitForHydration(page: Page): Promise<void> {
  await expect(checkout(page).form).toHaveAttribute('data-hydrated', 'true', { timeout: 20_000 });
}

/** Waits until a product page's island has hydrated and mounted the payment form. */
export async function startPaying(page: Page): Promise<void> {
  await waitForHydration(page);
  await waitForPaymentForm(page);
}

export async function waitForPaymentForm(page: Page): Promise<void> {
  const c = checkout(page);
  await expect(c.cardNumber).toBeVisible({ timeout: 20_000 });
  await expect(c.payButton).toBeEnabled();
}

/** Types the email (only after hydration, so the form's own state sees it) and a card. */
export async function fillCheckout(
  page: Page,
  { email = 'buyer@example.com', card, expiry = '12 / 34', cvc = '123' }: { email?: string; card: string; expiry?: string; cvc?: string },
): Promise<void> {
  const c = checkout(page);
  await c.email.fill(email);
  await c.cardNumber.fill(card);
  await c.expiry.fill(expiry);
  await c.cvc.fill(cvc);
}

/** Waits for the browser to land on an order page and returns the order's id. */
export async function orderIdFromUrl(page: Page): Promise<string> {
  await page.waitForURL(ORDER_URL, { timeout: 20_000 });
  return ORDER_URL.exec(new URL(page.url()).pathname)![1];
}

export function orderPage(page: Page): { article: Locator; status: Locator; amount: Locator } {
  const article = page.locator('article.order');
  return { article, status: article.locator('dd.status [role="status"]'), amount: article.locator('dd.amount') };
}
