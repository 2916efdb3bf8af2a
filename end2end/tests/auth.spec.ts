import { expect, test } from '@playwright/test';
import { ACCESS_TOKEN_SECONDS, REFRESH_REUSE_GRACE_SECONDS } from '../playwright.config';
import {
  accountMenu, expectProfileOf, fillLogin, openAccountMenu, PASSWORD, recordAuthCalls,
  registerNewPerson, waitForHydration, watchForPlaceholder,
} from './helpers';

const waitForAccessTokenToExpire = (page: import('@playwright/test').Page) =>
  page.waitForTimeout(ACCESS_TOKEN_SECONDS * 1000 + 1500);

test('a person registers, lands on the profile, logs out, and logs in with email or username', async ({ page }) => {
  const name = await registerNewPerson(page, 'reg');

  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(/\/login\?signed_out=here$/);
  await expect(page.getByRole('status')).toHaveText('You have been logged out on this device.');

  await fillLogin(page, `${name}@example.org`);
  await expectProfileOf(page, name);
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(/\/login\?signed_out=here$/);

  await fillLogin(page, name.toUpperCase());
  await expectProfileOf(page, name);
});

test('the header offers the ways in to a visitor, the account to a logged-in person, and follows a logout in another tab', async ({ page, context }) => {
  const nav = (tab: import('@playwright/test').Page) => tab.locator('header nav');
  const expectWaysIn = async (tab: import('@playwright/test').Page) => {
    await expect(nav(tab).getByRole('link', { name: 'Log in' })).toBeVisible();
    await expect(nav(tab).getByRole('link', { name: 'Register' })).toBeVisible();
    await expect(nav(tab).getByRole('link', { name: 'Devices' })).toHaveCount(0);
  };
  const expectAccount = async (tab: import('@playwright/test').Page) => {
    await expect(accountMenu(tab).locator('button[popovertarget]')).toContainText('Playwright Person');
    await expect(nav(tab).getByRole('link', { name: 'Log in' })).toHaveCount(0);
    await expect(nav(tab).getByRole('link', { name: 'Register' })).toHaveCount(0);
  };

  await page.goto('/');
  await expectWaysIn(page);
  await registerNewPerson(page, 'header');
  await expectAccount(page);

  // Rendered by the server for a logged-in person, and still so once hydrated.
  const second = await context.newPage();
  await second.goto('/');
  await expectAccount(second);
  await waitForHydration(second);
  await expectAccount(second);

  // A logout here reaches the other tab's header without a reload.
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(/\/login\?signed_out=here$/);
  await expectWaysIn(page);
  await expect(second).toHaveURL(/\/$/);
  await expectWaysIn(second);
});

test('back after the access token expired, the home page header shows the account after one quiet refresh; a visitor costs no call', async ({ page, browser }) => {
  await registerNewPerson(page, 'back');
  await waitForAccessTokenToExpire(page);
  const calls = recordAuthCalls(page);
  await page.goto('/');
  await waitForHydration(page);
  await expect(accountMenu(page)).toBeVisible();
  expect(calls).toEqual(['POST /api/auth/refresh 200']);

  const visitor = await browser.newPage();
  const visitorCalls = recordAuthCalls(visitor);
  await visitor.goto('/');
  await waitForHydration(visitor);
  await visitor.waitForTimeout(500);
  await expect(visitor.locator('header nav').getByRole('link', { name: 'Log in' })).toBeVisible();
  expect(visitorCalls).toEqual([]);
  await visitor.close();
});

test('a wrong password shows the one generic message and stays on the login page', async ({ page }) => {
  await page.goto('/login');
  await waitForHydration(page);
  await fillLogin(page, 'nobody-at-all', 'not the password');
  await expect(page.getByRole('alert').filter({ hasText: 'do not match an account' })).toBeVisible();
  await expect(page).toHaveURL(/\/login$/);
});

test('the register form shows a field error next to the field', async ({ page }) => {
  await page.goto('/register');
  await waitForHydration(page);
  await page.getByLabel('Email').fill('bad@example.org');
  await page.getByLabel('Username').fill('no spaces allowed');
  await page.getByLabel('Full name').fill('Someone');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.locator('#field-username-error')).toContainText('only letters');
  await expect(page.getByLabel('Username')).toHaveAttribute('aria-invalid', 'true');
});

test('after the access token expires, a client-side visit to the profile refreshes once, retries and shows it', async ({ page }) => {
  const name = await registerNewPerson(page, 'nav');
  await page.getByRole('link', { name: 'Gatehouse' }).click();
  await expect(page).toHaveURL(/\/$/);

  await waitForAccessTokenToExpire(page);
  const calls = recordAuthCalls(page);
  await openAccountMenu(page);
  await accountMenu(page).getByRole('link', { name: 'Profile' }).click();
  await expectProfileOf(page, name);
  expect(calls).toEqual([
    'GET /api/auth/me 401',
    'POST /api/auth/refresh 200',
    'GET /api/auth/me 200',
  ]);
});

test('after the access token expires, a full load of the profile shows the profile in its first page, with no placeholder', async ({ page }) => {
  const name = await registerNewPerson(page, 'load');

  await waitForAccessTokenToExpire(page);
  const calls = recordAuthCalls(page);
  const placeholders = watchForPlaceholder(page);
  const response = await page.goto('/profile');
  // The HTML the browser first shows is the profile itself, rendered by the server after the
  // detour through resume (a redirect the browser follows before showing anything).
  expect(response!.status()).toBe(200);
  expect(await response!.text()).toContain(`${name}@example.org`);
  await expectProfileOf(page, name);
  await waitForHydration(page);
  expect(calls).toEqual(['GET /api/auth/resume 303']);
  expect(await placeholders()).toBe(0);
});

test('a link from another site to the profile, after the access token expired, ends on the profile, not on login', async ({ page }) => {
  const name = await registerNewPerson(page, 'away');
  await waitForAccessTokenToExpire(page);

  // A page of another site linking here (served by the test itself). The browser sends no
  // SameSite=Strict cookie on a navigation that another site starts.
  const here = new URL(page.url()).origin;
  await page.route('http://elsewhere.test/', (route) => route.fulfill({
    contentType: 'text/html',
    body: `<!DOCTYPE html><title>Elsewhere</title><a href="${here}/profile">Your Gatehouse profile</a>`,
  }));
  await page.goto('http://elsewhere.test/');
  const calls = recordAuthCalls(page);
  await page.getByRole('link', { name: 'Your Gatehouse profile' }).click();
  await expectProfileOf(page, name);
  // The first resume had no refresh cookie and answered the same-site step; the second had it.
  expect(calls).toEqual(['GET /api/auth/resume 200', 'GET /api/auth/resume 303']);
});

test('when the refresh token is gone, the person lands on login and comes back to the profile after it', async ({ page, context }) => {
  const name = await registerNewPerson(page, 'gone');

  await context.clearCookies();
  await page.goto('/profile');
  await expect(page).toHaveURL(/\/login\?next=\/profile$/);
  await expect(page.getByRole('status')).toHaveText('Log in to see your profile.');
  await waitForHydration(page);
  await fillLogin(page, name);
  await expectProfileOf(page, name);
});

test('a rotated-away session is refused and sends the person to log in', async ({ page, context }) => {
  await registerNewPerson(page, 'dead');
  const stale = (await context.cookies()).find((c) => c.name === '__Secure-refresh_token')!;

  // Rotate once on the page's behalf, then, past the grace window, put the spent token back,
  // as a thief replaying it would.
  const rotated = await page.request.post('/api/auth/refresh');
  expect(rotated.status()).toBe(200);
  await page.waitForTimeout((REFRESH_REUSE_GRACE_SECONDS + 1.5) * 1000);
  await context.addCookies([stale]);
  await context.clearCookies({ name: '__Host-access_token' });

  await page.goto('/profile');
  await expect(page).toHaveURL(/\/login\?next=\/profile&signed_out=reused$/);
  await expect(page.getByRole('status')).toContainText('used from two places at once');
});

test('a locked account is told how long to wait, in words', async ({ page }) => {
  const name = await registerNewPerson(page, 'locked');
  await page.context().clearCookies();
  // Ten wrong passwords spend the account's budget (LOGIN_MAX_FAILURES, 10 per 15 minutes).
  for (let i = 0; i < 10; i++) {
    const response = await page.request.post('/api/auth/login', {
      form: { login: name, password: `wrong ${i}` },
    });
    expect(response.status()).toBe(401);
  }
  await page.goto('/login');
  await waitForHydration(page);
  await fillLogin(page, name);
  await expect(page.getByRole('alert').filter({ hasText: 'Too many attempts on this account' }))
    .toContainText('Try again in 15 minutes.');
});
