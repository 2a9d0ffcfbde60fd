// Accounts for the browser tests: addresses of their own, links read from the mail catcher
// scripts/test.sh runs, a shopper signed up and verified, and an admin made as an operator makes
// one (`server admin create-user`).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Page } from '@playwright/test';

import { REPO_ROOT, expect, serverEnv, type Shop } from './shop';

const CATCHER = process.env.MAIL_CATCHER_API;
export const PASSWORD = 'correct horse battery';

export function address(who: string): string {
  return `${who}-${randomBytes(6).toString('hex')}@buyers.test`;
}

type Mail = { subject: string; text: string; to: { address: string }[] };

/** Waits for a message with `subject` to `to` in the catcher and returns its text. */
export async function mailTo(to: string, subject: string): Promise<string> {
  expect(CATCHER, 'MAIL_CATCHER_API is not set: run the suite through scripts/test.sh').toBeTruthy();
  let found: Mail | undefined;
  await expect
    .poll(
      async () => {
        const inbox = (await (await fetch(`${CATCHER}/email`)).json()) as Mail[];
        found = inbox.find((m) => m.subject === subject && m.to.some((t) => t.address === to));
        return found !== undefined;
      },
      { timeout: 20_000 },
    )
    .toBe(true);
  return found!.text;
}

export function linkIn(text: string): string {
  const match = /(https?:\/\/\S+\?token=[0-9a-f]+)/.exec(text);
  expect(match, text).not.toBeNull();
  return match![1];
}

/** Signs `email` up in `page` and verifies it through the mailed link; ends signed in. */
export async function signUpAndVerify(page: Page, email: string) {
  await page.goto('/sign-up');
  const form = page.getByRole('form', { name: 'Create an account' });
  await form.getByLabel('Email').fill(email);
  await form.getByLabel('Password (at least 10 characters)').fill(PASSWORD);
  await form.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('status')).toContainText('Check your inbox');
  await page.goto(linkIn(await mailTo(email, 'Verify your email')));
  await page.getByRole('form', { name: 'Verify your email' }).getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Verify my email' }).click();
  await expect(page).toHaveURL(/\/account$/);
}


/** Makes `email` an admin with PASSWORD through the server binary, as an operator would. */
export function createAdmin(shop: Shop, email: string): void {
  const { bin, env } = serverEnv(shop);
  execFileSync(bin, ['admin', 'create-user', email, '--password-stdin'], {
    cwd: REPO_ROOT,
    env,
    input: `${PASSWORD}\n`,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** Signs in as `email` with PASSWORD in `page`. */
export async function signIn(page: Page, email: string): Promise<void> {
  await page.goto('/sign-in');
  const form = page.getByRole('form', { name: 'Sign in' });
  await form.getByLabel('Email').fill(email);
  await form.getByLabel('Password').fill(PASSWORD);
  await form.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/account$/);
}
