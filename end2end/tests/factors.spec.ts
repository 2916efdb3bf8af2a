import { expect, Page, test } from '@playwright/test';
import { axe, fillLogin, registerNewPerson, totp, waitForHydration } from './helpers';
import { linkTo, mailTo } from './mail';

/** Logs out by forgetting the session's cookies (the device cookie too), then logs in again. */
async function logInAgain(page: Page, name: string, next = '') {
  await page.context().clearCookies();
  await page.goto(`/login${next}`);
  await waitForHydration(page);
  await fillLogin(page, name);
  await expect(page.getByRole('heading', { name: 'Two-step verification' })).toBeVisible();
}

test('an authenticator app is set up from the profile; then login asks for its code, and a recovery code works once', async ({ page }) => {
  const name = await registerNewPerson(page, 'totp');
  await page.getByRole('link', { name: 'Two-step verification' }).click();
  await expect(page).toHaveURL(/\/security$/);
  await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
  await expect(page.getByRole('img', { name: 'QR code for your authenticator app' })).toBeVisible();
  const secret = (await page.getByTestId('totp-secret').textContent())!.trim();
  await page.screenshot({ path: '../target/screenshots/factors-set-up.png', fullPage: true });
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    expect(await axe(page), `the set-up step, ${colorScheme}`).toEqual([]);
  }
  await page.getByLabel('Code from the app').fill(totp(secret));
  await page.getByRole('button', { name: 'Turn on' }).click();
  const codes = page.getByTestId('recovery-codes').locator('li');
  await expect(codes).toHaveCount(10);
  const recovery = (await codes.allTextContents()).map((code) => code.trim());
  await page.setViewportSize({ width: 320, height: 800 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow, 'the recovery codes at 320 px').toBeLessThanOrEqual(0);
  await page.screenshot({ path: '../target/screenshots/factors-codes-320.png', fullPage: true });
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.getByRole('button', { name: 'Done' }).click();
  await expect(page.getByTestId('totp-on')).toBeVisible();
  await page.screenshot({ path: '../target/screenshots/factors-on.png', fullPage: true });

  // The password alone now leads to the second step; the app's code finishes it.
  await logInAgain(page, name, '?next=/sessions');
  expect(await axe(page), 'the second step').toEqual([]);
  await page.screenshot({ path: '../target/screenshots/factors-second-step.png', fullPage: true });
  // The code that turned the app on is spent: the app's next one is good.
  await page.getByLabel('Code', { exact: true }).fill(totp(secret, Date.now() + 30_000));
  await page.getByRole('button', { name: 'Continue' }).click();
  await expect(page).toHaveURL(/\/sessions$/);
  await expect(page.getByTestId('method').first()).toHaveText('Password and authenticator code');

  // A recovery code logs in once, and is refused the second time.
  await logInAgain(page, name);
  await page.getByLabel('Code', { exact: true }).fill(recovery[0]);
  await page.getByRole('button', { name: 'Continue' }).click();
  await expect(page).toHaveURL(/\/profile$/);
  await logInAgain(page, name);
  await page.getByLabel('Code', { exact: true }).fill(recovery[0]);
  await page.getByRole('button', { name: 'Continue' }).click();
  await expect(page.getByText('That code is not right.').first()).toBeVisible();
  await expect(page).toHaveURL(/\/login/);
});

/** Turns an authenticator app on from /security for the person logged in; returns its secret. */
async function turnAppOn(page: Page): Promise<string> {
  await page.goto('/security');
  await waitForHydration(page);
  await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
  const secret = (await page.getByTestId('totp-secret').textContent())!.trim();
  await waitForHydration(page);
  await page.getByLabel('Code from the app').fill(totp(secret));
  await page.getByRole('button', { name: 'Turn on' }).click();
  await expect(page.getByTestId('recovery-codes').locator('li')).toHaveCount(10);
  return secret;
}

test('a reset link sets the new password, and the login it leads to still asks for the app code', async ({ page, request }) => {
  const name = await registerNewPerson(page, 'resetotp');
  const email = `${name}@example.org`;
  const secret = await turnAppOn(page);
  await mailTo(request, email, 'Two-step verification of your Gatehouse account changed');

  await page.context().clearCookies();
  await page.goto('/forgot');
  await waitForHydration(page);
  await page.getByLabel('Email').fill(email);
  await page.getByRole('button', { name: 'Send the link' }).click();
  const link = linkTo(await mailTo(request, email, 'Reset your Gatehouse password'), '/reset');
  await page.goto(link);
  await waitForHydration(page);
  await page.getByLabel('New password').fill('a brand new passphrase');
  await page.getByRole('button', { name: 'Set the new password' }).click();
  // No session from the mailbox alone: the second step, on the reset page.
  await expect(page.getByRole('status')).toContainText('Your new password is set');
  await expect(page.getByRole('heading', { name: 'Two-step verification' })).toBeVisible();
  expect(await axe(page), 'the reset page\'s second step').toEqual([]);
  await page.getByLabel('Code', { exact: true }).fill(totp(secret, Date.now() + 30_000));
  await page.getByRole('button', { name: 'Continue' }).click();
  await expect(page).toHaveURL(/\/profile/);
  await expect(page.getByTestId('username')).toHaveText(name);
});
