import { expect, test } from '@playwright/test';
import { SHORT_LINKS_SECONDS, SHORT_LINKS_URL } from '../playwright.config';
import { expectProfileOf, fillLogin, fillRegister, registerNewPerson, waitForHydration } from './helpers';
import { linkTo, mailTo } from './mail';

const NEW_PASSWORD = 'a brand new passphrase';

test('forgot password, the mail, its link, a new password: logged in here, logged out everywhere else', async ({ browser, request }) => {
  // The account, logged in on one device.
  const other = await browser.newContext();
  const otherPage = await other.newPage();
  const name = await registerNewPerson(otherPage, 'forgot');
  const email = `${name}@example.org`;

  // On another device, from the login page.
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto('/login');
  await waitForHydration(page);
  await page.getByRole('link', { name: 'Forgot your password?' }).click();
  await expect(page).toHaveURL(/\/forgot$/);
  await page.getByLabel('Email').fill(email);
  await page.getByRole('button', { name: 'Send the link' }).click();
  await expect(page.getByRole('status')).toContainText('a link to choose a new password is on its way');

  const mail = await mailTo(request, email, 'Reset your Gatehouse password');
  const link = linkTo(mail, '/reset');
  // A mail scanner fetches the link first: that spends nothing.
  expect((await request.get(link, { maxRedirects: 0 })).status()).toBe(200);

  await page.goto(link);
  await waitForHydration(page);
  await page.getByLabel('New password').fill(NEW_PASSWORD);
  await page.getByRole('button', { name: 'Set the new password' }).click();
  await expect(page).toHaveURL(/\/profile\?reset=1$/);
  await expect(page.getByRole('status')).toContainText('Your new password is set');
  await expect(page.getByTestId('username')).toHaveText(name);

  // The device that was logged in is not any more.
  await otherPage.goto('/profile');
  await expect(otherPage).toHaveURL(/\/login/);

  // The notice arrived, and the link is spent.
  await mailTo(request, email, 'Your Gatehouse password was changed');
  await page.goto(link);
  await expect(page).toHaveURL(/\/reset\?link=invalid$/);
  await expect(page.getByRole('alert')).toContainText('cannot be used');
  await expect(page.getByRole('link', { name: 'Ask for a new link' })).toBeVisible();

  // And the new password is the one that logs in.
  const third = await browser.newContext();
  const thirdPage = await third.newPage();
  await thirdPage.goto('/login');
  await waitForHydration(thirdPage);
  await fillLogin(thirdPage, name, NEW_PASSWORD);
  await expectProfileOf(thirdPage, name);
  await Promise.all([other.close(), context.close(), third.close()]);
});

test('a forgot-password request for an address with no account looks exactly the same', async ({ page }) => {
  await page.goto('/forgot');
  await waitForHydration(page);
  await page.getByLabel('Email').fill('nobody-at-all@example.org');
  await page.getByRole('button', { name: 'Send the link' }).click();
  await expect(page.getByRole('status')).toContainText('If an account uses that address');
});

test('without JavaScript the forgot and reset forms work too', async ({ browser, request }) => {
  const setup = await browser.newContext();
  const name = await registerNewPerson(await setup.newPage(), 'nojsreset');
  await setup.close();
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto('/forgot');
  await page.getByLabel('Email').fill(`${name}@example.org`);
  await page.getByRole('button', { name: 'Send the link' }).click();
  await expect(page).toHaveURL(/\/forgot\?sent=1$/);
  await expect(page.getByRole('status')).toContainText('on its way');
  const mail = await mailTo(request, `${name}@example.org`, 'Reset your Gatehouse password');
  await page.goto(linkTo(mail, '/reset'));
  await page.getByLabel('New password').fill(NEW_PASSWORD);
  await page.getByRole('button', { name: 'Set the new password' }).click();
  await expect(page).toHaveURL(/\/profile\?reset=1$/);
  await expect(page.getByRole('status')).toContainText('Your new password is set');
  await context.close();
});

test('a reset link opened after it expired says so and offers a new one', async ({ page, request }) => {
  // On the server whose links live seconds (see playwright.config.ts).
  const name = `expired${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
  const email = `${name}@example.org`;
  await page.goto(`${SHORT_LINKS_URL}/register`);
  await waitForHydration(page);
  await fillRegister(page, name);
  await expect(page).toHaveURL(/\/profile$/);
  await page.goto(`${SHORT_LINKS_URL}/forgot`);
  await waitForHydration(page);
  await page.getByLabel('Email').fill(email);
  await page.getByRole('button', { name: 'Send the link' }).click();
  const link = linkTo(await mailTo(request, email, 'Reset your Gatehouse password'), '/reset');
  await page.waitForTimeout((SHORT_LINKS_SECONDS + 1) * 1000);
  await page.goto(link);
  await expect(page).toHaveURL(/\/reset\?link=expired$/);
  await expect(page.getByRole('alert')).toContainText('This reset link has expired');
  await page.getByRole('link', { name: 'Ask for a new link' }).click();
  await expect(page).toHaveURL(/\/forgot$/);
});
