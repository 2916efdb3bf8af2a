import AxeBuilder from '@axe-core/playwright';
import { createHmac } from 'node:crypto';
import { expect, Page, Response } from '@playwright/test';

export const PASSWORD = 'correct horse battery';

/** A username no other test (or earlier run on the same database) has used. */
export function uniqueName(prefix: string): string {
  return `${prefix}${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`.slice(0, 32);
}

/** Fills and submits the register form; the page must already be on /register. */
export async function fillRegister(page: Page, name: string) {
  await page.getByLabel('Email').fill(`${name}@example.org`);
  await page.getByLabel('Username').fill(name);
  await page.getByLabel('Full name').fill('Playwright Person');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
}

/** Registers a new person through the form (JavaScript on) and waits for their profile. */
export async function registerNewPerson(page: Page, prefix: string): Promise<string> {
  const name = uniqueName(prefix);
  await page.goto('/register');
  await waitForHydration(page);
  await fillRegister(page, name);
  await expectProfileOf(page, name);
  return name;
}

export async function fillLogin(page: Page, login: string, password = PASSWORD) {
  await page.getByLabel('Email or username').fill(login);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

export async function expectProfileOf(page: Page, name: string) {
  await expect(page).toHaveURL(/\/profile$/);
  await expect(page.getByTestId('username')).toHaveText(name);
  await expect(page.getByTestId('email')).toHaveText(`${name}@example.org`);
  await expect(page.getByTestId('full-name')).toHaveText('Playwright Person');
}

/** Waits until the app in the page is interactive (the WASM client has hydrated). */
export async function waitForHydration(page: Page) {
  await page.locator('html[data-hydrated]').waitFor({ state: 'attached' });
}

/** Records the auth API calls the page makes, as "METHOD path status". */
export function recordAuthCalls(page: Page): string[] {
  const calls: string[] = [];
  page.on('response', (response: Response) => {
    const url = new URL(response.url());
    if (url.pathname.startsWith('/api/auth/')) {
      calls.push(`${response.request().method()} ${url.pathname} ${response.status()}`);
    }
  });
  return calls;
}

/** The header's account menu (a button and its popover), present when someone is logged in. */
export function accountMenu(page: Page) {
  return page.locator('header nav .account-menu');
}

/** Opens the header's account menu, if it is not open yet. */
export async function openAccountMenu(page: Page) {
  const menu = accountMenu(page);
  if (await menu.locator('[popover]:popover-open').count() === 0) {
    await menu.locator('button[popovertarget]').click();
  }
}

/**
 * Watches every document the page loads from now on for the "Checking your session…"
 * placeholder, from the first byte of HTML to the hydrated app; the returned function says how
 * many times it appeared in the current document.
 */
export function watchForPlaceholder(page: Page): () => Promise<number> {
  void page.addInitScript(() => {
    const seen = { count: 0 };
    (window as unknown as { placeholderSeen: typeof seen }).placeholderSeen = seen;
    new MutationObserver(() => {
      if (document.body?.textContent?.includes('Checking your session')) {
        seen.count += 1;
      }
    }).observe(document, { childList: true, subtree: true, characterData: true });
  });
  return () => page.evaluate(
    () => (window as unknown as { placeholderSeen: { count: number } }).placeholderSeen.count,
  );
}

/** What the person's authenticator app shows at `at` (RFC 6238: SHA-1, six digits, 30 s). */
export function totp(secret: string, at = Date.now()): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/=+$/, '').toUpperCase()) {
    bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  }
  const key = Buffer.from(bits.match(/.{8}/g)!.map((byte) => parseInt(byte, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const value = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return value.toString().padStart(6, '0');
}

/** axe-core's violations on the page as it is, one line per element. */
export async function axe(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations.flatMap((v) => v.nodes.map((n) => `${v.id}: ${n.target.join(' ')}`));
}
