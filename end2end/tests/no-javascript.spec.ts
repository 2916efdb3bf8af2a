import { expect, test } from '@playwright/test';
import { expectProfileOf, fillLogin, fillRegister, uniqueName } from './helpers';

// Plain HTML forms: the browser posts them, the server answers with a redirect.
test.use({ javaScriptEnabled: false });

test('without JavaScript, register, log out and log in with the plain forms', async ({ page }) => {
  const name = uniqueName('nojs');
  await page.goto('/register');
  await fillRegister(page, name);
  await expectProfileOf(page, name);

  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(/\/login$/);

  await fillLogin(page, name);
  await expectProfileOf(page, name);
});

test('without JavaScript, a failed login shows the message on the login page', async ({ page }) => {
  await page.goto('/login?next=%2Fprofile');
  await fillLogin(page, 'nobody-here', 'wrong password');
  await expect(page).toHaveURL(/\/login\?/);
  await expect(page.getByRole('alert').filter({ hasText: 'do not match an account' })).toBeVisible();
});
