import { expect, test } from '@playwright/test';
import { ACCESS_TOKEN_SECONDS } from '../playwright.config';
import { expectProfileOf, fillLogin, fillRegister, PASSWORD, uniqueName } from './helpers';

// Plain HTML forms: the browser posts them, the server answers with a redirect.
test.use({ javaScriptEnabled: false });

test('without JavaScript, register, log out and log in with the plain forms', async ({ page }) => {
  const name = uniqueName('nojs');
  await page.goto('/register');
  await fillRegister(page, name);
  await expectProfileOf(page, name);

  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(/\/login\?signed_out=here$/);
  await expect(page.getByRole('status')).toHaveText('You have been logged out on this device.');

  await fillLogin(page, name);
  await expectProfileOf(page, name);
});

test('without JavaScript, a failed login shows the message on the login page', async ({ page }) => {
  await page.goto('/login?next=%2Fprofile');
  await fillLogin(page, 'nobody-here', 'wrong password');
  await expect(page).toHaveURL(/\/login\?/);
  await expect(page.getByRole('alert').filter({ hasText: 'do not match an account' })).toBeVisible();
});

test('without JavaScript, a full load of the profile after the access token expired shows the profile at once', async ({ page }) => {
  const name = uniqueName('nojsexp');
  await page.goto('/register');
  await fillRegister(page, name);
  await expectProfileOf(page, name);

  await page.waitForTimeout(ACCESS_TOKEN_SECONDS * 1000 + 1500);
  const response = await page.reload();
  expect(await response!.text()).not.toContain('Checking your session');
  await expectProfileOf(page, name);
});

test('without JavaScript, the profile with no session leads to login saying so, and back to the profile after it', async ({ page, request }) => {
  // The account exists, but this browser has never logged in.
  const name = uniqueName('nojsnone');
  const registered = await request.post('/api/auth/register', {
    form: { email: `${name}@example.org`, username: name, full_name: 'Playwright Person', password: PASSWORD },
  });
  expect(registered.status()).toBe(200);

  await page.goto('/profile');
  await expect(page).toHaveURL(/\/login\?next=\/profile$/);
  await expect(page.getByRole('status')).toHaveText('Log in to see your profile.');
  await fillLogin(page, name);
  await expectProfileOf(page, name);
});

test('without JavaScript, the profile is edited and another device is logged out from the sessions page', async ({ page, request }) => {
  const name = uniqueName('nojsdev');
  await page.goto('/register');
  await fillRegister(page, name);
  await expectProfileOf(page, name);
  // A second device: a login from outside this browser.
  const other = await request.post('/api/auth/login', { form: { login: name, password: PASSWORD } });
  expect(other.status()).toBe(200);

  await page.getByLabel('Full name').fill('Plain Form Person');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page).toHaveURL(/\/profile$/);
  await expect(page.getByTestId('full-name')).toHaveText('Plain Form Person');

  await page.goto('/sessions');
  await expect(page.getByTestId('session')).toHaveCount(2);
  await page.locator('[data-testid="session"][data-current="false"]')
    .getByRole('button', { name: /^Log out / }).click();
  await expect(page).toHaveURL(/\/sessions$/);
  await expect(page.getByTestId('session')).toHaveCount(1);

  await page.getByRole('button', { name: 'Log out everywhere' }).click();
  await expect(page).toHaveURL(/\/login\?signed_out=everywhere$/);
  await expect(page.getByRole('status')).toHaveText('You have been logged out on every device.');
});

test('without JavaScript, a wrong current password is shown on the profile', async ({ page }) => {
  const name = uniqueName('nojspwd');
  await page.goto('/register');
  await fillRegister(page, name);
  await expectProfileOf(page, name);
  await page.getByLabel('Current password').fill('not my password');
  await page.getByLabel('New password').fill('violet tractor harbour');
  await page.getByRole('button', { name: 'Change password' }).click();
  await expect(page).toHaveURL(/\/profile/);
  await expect(page.getByRole('alert').filter({ hasText: 'not your current password' })).toBeVisible();
});

test('without JavaScript, the account is deleted once the password and the confirmation are given', async ({ page }) => {
  const name = uniqueName('nojsdel');
  await page.goto('/register');
  await fillRegister(page, name);
  await expectProfileOf(page, name);
  await page.getByText('Delete your account…').click();
  await page.getByLabel('Your password').fill(PASSWORD);
  await page.getByLabel('I understand').check();
  await page.getByRole('button', { name: 'Delete my account' }).click();
  await expect(page).toHaveURL(/\/\?signed_out=deleted$/);
  await expect(page.getByRole('status')).toHaveText('Your account has been deleted.');

  await page.goto('/login');
  await fillLogin(page, name);
  await expect(page.getByRole('alert').filter({ hasText: 'do not match an account' })).toBeVisible();
});
