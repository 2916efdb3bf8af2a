import { expect, Page, test } from '@playwright/test';
import { registerNewPerson, uniqueName, waitForHydration } from './helpers';

/** Holds the requests to `url` until the returned function is called, to look at the page
 * while they are in flight. */
async function holdRequests(page: Page, url: string): Promise<() => void> {
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => { release = resolve; });
  await page.route(url, async (route) => {
    await held;
    await route.continue();
  });
  return release;
}

/** Sends the register form with a username the server refuses ("b!"), the rest valid. */
async function registerWithRefusedUsername(page: Page) {
  await page.goto('/register');
  await waitForHydration(page);
  const name = uniqueName('refused');
  await page.getByLabel('Email').fill(`${name}@example.org`);
  await page.getByLabel('Username').fill('b!');
  await page.getByLabel('Full name').fill('Playwright Person');
  await page.getByLabel('Password').fill('correct horse battery');
  await page.locator('form button[type="submit"]').click();
}

test('a pending submission says so on its button, which keeps the keyboard focus', async ({ page }) => {
  await page.goto('/login');
  await waitForHydration(page);
  // Hold the request, to look at the page while it is in flight.
  const release = await holdRequests(page, '**/api/auth/login');
  await page.getByLabel('Email or username').fill('nobody-here');
  await page.getByLabel('Password').fill('not the password');
  const button = page.locator('form button[type="submit"]');
  await button.focus();
  await page.keyboard.press('Enter');
  await expect(button).toHaveText('Logging in…');
  await expect(button).toHaveAttribute('aria-busy', 'true');
  expect(await button.evaluate((element) => element === document.activeElement)).toBe(true);
  release();
  await expect(button).toHaveText('Log in');
  await expect(button).toHaveAttribute('aria-busy', 'false');
});

test('a refused field gets the focus, and its error goes away once the person retypes', async ({ page }) => {
  await registerWithRefusedUsername(page);
  const username = page.getByLabel('Username');
  await expect(page.locator('#field-username-error')).not.toBeEmpty();
  await expect(username).toBeFocused();
  await expect(username).toHaveAttribute('aria-invalid', 'true');
  await username.pressSequentially('x');
  await expect(page.locator('#field-username-error')).toBeEmpty();
  await expect(username).toHaveAttribute('aria-invalid', 'false');
});

test('while a form is sent again, the errors of the last answer are gone', async ({ page }) => {
  await registerWithRefusedUsername(page);
  // Located by its place: while pending, its label says what is happening instead.
  const submit = page.locator('form button[type="submit"]');
  const error = page.locator('#field-username-error');
  await expect(error).not.toBeEmpty();

  // The same form sent again, unchanged: while its answer is held, no old error is shown.
  const release = await holdRequests(page, '**/api/auth/register');
  await submit.click();
  await expect(submit).toHaveAttribute('aria-busy', 'true');
  await expect(error).toBeEmpty();
  await expect(page.getByLabel('Username')).toHaveAttribute('aria-invalid', 'false');
  release();
  await expect(error).not.toBeEmpty();
});

test('the first Tab reaches a link that skips to the content', async ({ page }) => {
  await page.goto('/');
  await waitForHydration(page);
  await page.keyboard.press('Tab');
  const skip = page.getByRole('link', { name: 'Skip to content' });
  await expect(skip).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.locator('main')).toBeFocused();
});

test('a password can be shown and hidden again with a real toggle button, from the keyboard', async ({ page }) => {
  await page.goto('/login');
  await waitForHydration(page);
  const password = page.getByLabel('Password', { exact: true });
  await password.fill('correct horse battery');
  const toggle = page.getByRole('button', { name: 'Show password' });
  await expect(toggle).toHaveAttribute('aria-pressed', 'false');
  await toggle.focus();
  await page.keyboard.press('Space');
  await expect(password).toHaveAttribute('type', 'text');
  await expect(page.getByRole('button', { name: 'Hide password' })).toHaveAttribute('aria-pressed', 'true');
  await page.keyboard.press('Enter');
  await expect(password).toHaveAttribute('type', 'password');
  await expect(password).toHaveValue('correct horse battery');
});

test('the password forms on the profile name the account for password managers, without sending it', async ({ page }) => {
  const name = await registerNewPerson(page, 'manager');
  const forms = page.locator('form:has(input[autocomplete="current-password"])');
  await expect(forms).toHaveCount(2);
  for (const form of await forms.all()) {
    const account = form.locator('input[autocomplete="username"]');
    await expect(account).toHaveValue(name);
    await expect(account).not.toHaveAttribute('name', /.*/);
  }
});

test('a wrong current password shows on its field, and a saved notice goes once the form is edited again', async ({ page }) => {
  await registerNewPerson(page, 'fields');
  await page.getByLabel('Current password').fill('not my password');
  await page.getByLabel('New password').fill('violet tractor harbour');
  await page.getByRole('button', { name: 'Change password' }).click();
  await expect(page.locator('#field-current_password-error')).toHaveText('That is not your current password.');
  await expect(page.getByLabel('Current password')).toHaveAttribute('aria-invalid', 'true');
  await expect(page.locator('.form-error')).toHaveCount(0);

  await page.getByLabel('Full name').fill('Renamed Person');
  await page.getByRole('button', { name: 'Save changes' }).click();
  const saved = page.getByRole('status').filter({ hasText: 'Your profile is saved.' });
  await expect(saved).toBeVisible();
  await page.getByLabel('Full name').pressSequentially(' Again');
  await expect(saved).toHaveCount(0);
});

test('someone logged in who picks a taken username is not told to log in', async ({ page, browser }) => {
  const taken = await registerNewPerson(page, 'taken');
  const other = await browser.newPage();
  await registerNewPerson(other, 'picker');
  await other.getByLabel('Username').fill(taken);
  await other.getByRole('button', { name: 'Save changes' }).click();
  await expect(other.locator('#field-username-error')).toHaveText(
    'That username belongs to another account. Choose another.',
  );
  await other.close();
});
