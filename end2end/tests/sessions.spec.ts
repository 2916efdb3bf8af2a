import { Browser, BrowserContext, expect, Page, test } from '@playwright/test';
import { ACCESS_TOKEN_SECONDS } from '../playwright.config';
import {
  PASSWORD, expectProfileOf, fillLogin, openAccountMenu, recordAuthCalls, registerNewPerson, waitForHydration,
} from './helpers';

const waitForAccessTokenToExpire = (page: Page) =>
  page.waitForTimeout(ACCESS_TOKEN_SECONDS * 1000 + 1500);

/** A second browser (its own cookies), logged in as `name`. */
async function secondBrowser(browser: Browser, name: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ baseURL: test.info().project.use.baseURL });
  const page = await context.newPage();
  await page.goto('/login');
  await waitForHydration(page);
  await fillLogin(page, name);
  await expectProfileOf(page, name);
  return { context, page };
}

/** Counts the refresh requests any tab of `context` makes. */
function countRefreshes(context: BrowserContext): () => number {
  let count = 0;
  context.on('request', (request) => {
    if (request.method() === 'POST' && new URL(request.url()).pathname === '/api/auth/refresh') count += 1;
  });
  return () => count;
}

test('the sessions page revokes another browser\'s session, which is then sent to log in', async ({ page, browser }) => {
  const name = await registerNewPerson(page, 'devs');
  const other = await secondBrowser(browser, name);

  await page.goto('/sessions');
  const sessions = page.getByTestId('session');
  await expect(sessions).toHaveCount(2);
  const thisDevice = page.locator('[data-testid="session"][data-current="true"]');
  await expect(thisDevice).toContainText('This device');
  await expect(thisDevice).toContainText('127.0.0.1');

  await waitForHydration(page);
  // Each button names its device, for screen readers.
  const otherButton = page.locator('[data-testid="session"][data-current="false"]').getByRole('button');
  await expect(otherButton).toHaveAccessibleName(/^Log out Headless Chrome on Linux$/);
  await expect(thisDevice.getByRole('button')).toHaveAccessibleName('Log out this device');
  await otherButton.focus();
  await page.keyboard.press('Enter');
  await expect(sessions).toHaveCount(1);
  // Said, and the keyboard is back at the top of the page, not on another device's button.
  await expect(page.getByRole('status')).toHaveText('That device has been logged out.');
  await expect(page.locator('main')).toBeFocused();

  // The other browser's access token is refused at once, not at its expiry.
  await other.page.goto('/profile');
  await expect(other.page).toHaveURL(/\/login\?next=\/profile&signed_out=elsewhere$/);
  await expect(other.page.getByRole('status')).toContainText('logged out from another one');
  await other.context.close();
});

test('two tabs whose access token expired share one refresh', async ({ page, context }) => {
  const name = await registerNewPerson(page, 'tabs');
  const second = await context.newPage();
  await second.goto('/profile');
  await expectProfileOf(second, name);
  await waitForHydration(second);

  await waitForAccessTokenToExpire(page);
  const refreshes = countRefreshes(context);
  // Both tabs load their device list at the same moment, each with the expired access token.
  await Promise.all([page, second].map(async (tab) => {
    await openAccountMenu(tab);
    await tab.getByRole('link', { name: 'Devices', exact: true }).click();
  }));
  for (const tab of [page, second]) {
    await expect(tab).toHaveURL(/\/sessions$/);
    await expect(tab.getByTestId('session')).toHaveCount(1);
  }
  expect(refreshes()).toBe(1);
});

test('logging out in one tab sends the other tab to the login page without a reload', async ({ page, context }) => {
  const name = await registerNewPerson(page, 'bye');
  const second = await context.newPage();
  await second.goto('/sessions');
  await waitForHydration(second);
  await expect(second.getByTestId('session')).toHaveCount(1);

  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(/\/login\?signed_out=here$/);
  await expect(second).toHaveURL(/\/login\?next=\/sessions&signed_out=other_tab$/);
  await expect(second.getByRole('status')).toHaveText('You logged out in another tab.');
  await waitForHydration(second);
  await fillLogin(second, name);
  await expect(second).toHaveURL(/\/sessions$/);
});

test('a profile edit after the access token expired refreshes once and retries, unnoticed', async ({ page }) => {
  await registerNewPerson(page, 'edit');
  await waitForAccessTokenToExpire(page);
  const calls = recordAuthCalls(page);
  await page.getByLabel('Full name').fill('Renamed Person');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.getByRole('status')).toHaveText('Your profile is saved.');
  await expect(page.getByTestId('full-name')).toHaveText('Renamed Person');
  expect(calls.slice(0, 3)).toEqual([
    'POST /api/auth/update_profile 401',
    'POST /api/auth/refresh 200',
    'POST /api/auth/update_profile 200',
  ]);
});

test('a password change keeps this tab logged in and shows a wrong current password', async ({ page }) => {
  const name = await registerNewPerson(page, 'pwd');
  await page.getByLabel('Current password').fill('not my password');
  await page.getByLabel('New password').fill('violet tractor harbour');
  await page.getByRole('button', { name: 'Change password' }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'not your current password' })).toBeVisible();

  await page.getByLabel('Current password').fill(PASSWORD);
  await page.getByLabel('New password').fill('violet tractor harbour');
  await page.getByRole('button', { name: 'Change password' }).click();
  await expect(page.getByRole('status')).toContainText('Your password is changed');
  await page.reload();
  await expectProfileOf(page, name);
});

test('deleting the account needs the password and the confirmation, then it is gone', async ({ page }) => {
  const name = await registerNewPerson(page, 'del');
  await page.getByText('Delete your account…').click();
  await page.getByLabel('Your password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Delete my account' }).click();
  // The browser holds the submission until the confirmation is ticked.
  await expect(page).toHaveURL(/\/profile$/);
  await page.getByLabel('I understand').check();
  await page.getByRole('button', { name: 'Delete my account' }).click();
  await expect(page).toHaveURL(/\/\?signed_out=deleted$/);
  await expect(page.getByRole('status')).toHaveText('Your account has been deleted.');

  await page.goto('/login');
  await waitForHydration(page);
  await fillLogin(page, name);
  await expect(page.getByRole('alert').filter({ hasText: 'do not match an account' })).toBeVisible();
});

/**
 * Logs every device of `name` out from a second browser, then saves `fullName` on the profile
 * that `page` still shows: the save finds the session ended and the page goes to login.
 */
async function saveAfterLogoutElsewhere(page: Page, browser: Browser, name: string, fullName: string) {
  const other = await secondBrowser(browser, name);
  expect((await other.page.request.post('/api/auth/logout_all')).status()).toBe(200);
  await other.context.close();
  await page.getByLabel('Full name').fill(fullName);
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page).toHaveURL(/\/login\?next=\/profile&signed_out=elsewhere$/);
}

test('an edit sent after this device was logged out from another one is kept through login and filled in again', async ({ page, browser }) => {
  const name = await registerNewPerson(page, 'unsent');
  await saveAfterLogoutElsewhere(page, browser, name, 'Kept Through Login');
  await expect(page.getByRole('status').filter({ hasText: 'logged out from another one' })).toBeVisible();

  await fillLogin(page, name);
  await expect(page).toHaveURL(/\/profile$/);
  await expect(page.getByRole('status').filter({ hasText: 'logged out before your changes were saved' })).toBeVisible();
  await expect(page.getByLabel('Full name')).toHaveValue('Kept Through Login');
  // Not saved yet: the profile itself still shows the old name, until the person saves.
  await expect(page.getByTestId('full-name')).toHaveText('Playwright Person');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.getByTestId('full-name')).toHaveText('Kept Through Login');

  // Filled in once: a later visit shows the profile as saved, with nothing to restore.
  await page.reload();
  await waitForHydration(page);
  await expect(page.getByLabel('Full name')).toHaveValue('Kept Through Login');
  await expect(page.getByText('logged out before your changes were saved')).toHaveCount(0);
});

test('what one account could not save is not filled into another account\'s form in the same tab', async ({ page, browser }) => {
  const name = await registerNewPerson(page, 'sharedpc');
  const next = await registerNewPerson(await (await browser.newContext({ baseURL: test.info().project.use.baseURL })).newPage(), 'nextperson');
  await saveAfterLogoutElsewhere(page, browser, name, 'Not For The Next Person');
  await waitForHydration(page);
  await fillLogin(page, next);
  await expectProfileOf(page, next);
  await waitForHydration(page);
  await expect(page.getByLabel('Full name')).toHaveValue('Playwright Person');
  await expect(page.getByText('logged out before your changes were saved')).toHaveCount(0);
});

test('the devices page says when each device was used in words, with the exact time for machines and on hover', async ({ page }) => {
  await registerNewPerson(page, 'when');
  await page.goto('/sessions');
  const current = page.locator('[data-testid="session"][data-current="true"]');
  await expect(current).toContainText('last used just now');
  await expect(current).toContainText('logged in just now');
  const times = current.locator('time');
  await expect(times).toHaveCount(2);
  await expect(times.first()).toHaveAttribute('datetime', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  await expect(times.first()).toHaveAttribute('title', /^\d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
});

test('recent activity, reached from the profile, shows a wrong password from another browser and the login after it', async ({ page, browser }) => {
  const name = await registerNewPerson(page, 'acts');
  const context = await browser.newContext({ baseURL: test.info().project.use.baseURL });
  const other = await context.newPage();
  await other.goto('/login');
  await waitForHydration(other);
  await fillLogin(other, name, 'not the password, sorry');
  await expect(other.getByRole('alert').filter({ hasText: 'do not match an account' })).toBeVisible();
  await fillLogin(other, name);
  await expectProfileOf(other, name);
  await context.close();

  await page.goto('/profile');
  await waitForHydration(page);
  await page.getByRole('link', { name: 'Recent activity' }).click();
  await expect(page).toHaveURL(/\/activity$/);
  await expect(page.getByRole('heading', { name: 'Recent activity' })).toBeVisible();
  const entries = page.getByTestId('activity');
  // Newest first: the login, the wrong password (marked), the registration.
  await expect(entries.nth(0)).toContainText('Logged in');
  await expect(entries.nth(0)).toContainText('Headless Chrome on Linux');
  await expect(entries.nth(1)).toContainText('Wrong password entered at login');
  await expect(entries.nth(1)).toContainText('Check');
  await expect(entries.nth(1)).toContainText('127.0.0.1');
  await expect(entries.last()).toContainText('Account created');
});
