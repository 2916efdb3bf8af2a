import { expect, test } from '@playwright/test';
import { registerNewPerson, waitForHydration } from './helpers';
import { linkTo, mailsTo, mailTo } from './mail';

const VERIFY = 'Confirm your address for Gatehouse';

test('registration mails a link; opening it (after a scanner fetched it) confirms the address', async ({ page, request }) => {
  const name = await registerNewPerson(page, 'verify');
  const email = `${name}@example.org`;
  await expect(page.getByTestId('email-state')).toHaveText('not confirmed');
  await expect(page.getByRole('link', { name: 'Confirm it' })).toBeVisible();

  const link = linkTo(await mailTo(request, email, VERIFY), '/verify');
  // A mail scanner fetches the link first: that spends nothing.
  expect((await request.get(link, { maxRedirects: 0 })).status()).toBe(200);

  await page.goto(link);
  await waitForHydration(page);
  await page.getByRole('button', { name: 'Confirm my address' }).click();
  await expect(page.getByRole('status')).toContainText('Your address is confirmed');
  await page.getByRole('link', { name: 'Go to your profile' }).click();
  await expect(page.getByTestId('email-state')).toHaveText('confirmed');
  await expect(page.getByRole('link', { name: 'Confirm it' })).toHaveCount(0);

  // The link is spent: it says so, and offers a new one.
  await page.goto(link);
  await expect(page).toHaveURL(/\/verify\?link=invalid$/);
  await expect(page.getByRole('alert')).toContainText('cannot be used');
  await expect(page.getByRole('button', { name: 'Send a new link' })).toBeVisible();
});

test('"send the link again" from the profile, then the newest code confirms the address where the person is signed in', async ({ page, request }) => {
  const name = await registerNewPerson(page, 'vcode');
  await mailTo(request, `${name}@example.org`, VERIFY);
  await page.getByRole('button', { name: 'Send the link again' }).click();
  await expect(page).toHaveURL(/\/verify\?sent=1$/);
  await expect(page.getByRole('status')).toContainText('a new link and code are on their way');
  const mail = (await mailsTo(request, `${name}@example.org`, VERIFY, 2)).pop()!;
  const code = mail.text.match(/enter this code: (\d{6})/)![1];
  await waitForHydration(page);
  // Signed in: only the code is asked for.
  await expect(page.getByLabel('Email or username')).toHaveCount(0);
  await page.getByLabel('Code').fill(code === '000000' ? '000001' : '000000');
  await page.getByRole('button', { name: 'Confirm', exact: true }).click();
  await expect(page.getByText('That code is not right')).toBeVisible();
  await expect(page.getByLabel('Code')).toBeFocused();
  await page.getByLabel('Code').fill(`${code.slice(0, 3)} ${code.slice(3)}`);
  await page.getByRole('button', { name: 'Confirm', exact: true }).click();
  await expect(page.getByRole('status')).toContainText('Your address is confirmed');
  await page.goto('/profile');
  await expect(page.getByTestId('email-state')).toHaveText('confirmed');
});

test('a new address: the link goes to it, the old one is told, and the account moves when it is opened', async ({ page, request }) => {
  const name = await registerNewPerson(page, 'move');
  const old = `${name}@example.org`;
  const moved = `${name}@example.net`;
  await page.getByLabel('Email', { exact: true }).fill(moved);
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.getByText('We sent a link to your new address')).toBeVisible();
  await expect(page.getByTestId('email')).toHaveText(old);

  const told = await mailTo(request, old, 'A change of your Gatehouse address was asked for');
  expect(told.text).toContain(moved);
  linkTo(told, '/undo-email');
  const link = linkTo(await mailTo(request, moved, 'Confirm your new Gatehouse address'), '/confirm-email');
  await page.goto(link);
  await waitForHydration(page);
  await page.getByRole('button', { name: 'Use this address' }).click();
  await expect(page.getByRole('status')).toContainText('Your account uses this address now');
  await page.getByRole('link', { name: 'Go to your profile' }).click();
  await expect(page.getByTestId('email')).toHaveText(moved);
  await expect(page.getByTestId('email-state')).toHaveText('confirmed');

  // The old address can put itself back: the page asks first, then says what happened.
  const undo = linkTo(await mailTo(request, old, 'Your Gatehouse address was changed'), '/undo-email');
  await page.goto(undo);
  await waitForHydration(page);
  await page.getByRole('button', { name: 'Keep my address' }).click();
  await expect(page.getByRole('status')).toContainText('Your address is back');
  await page.goto('/profile');
  await expect(page).toHaveURL(/\/login/);

  // The change link was spent: it says so.
  await page.goto(link);
  await expect(page).toHaveURL(/\/confirm-email\?link=invalid$/);
  await expect(page.getByRole('alert')).toContainText('cannot be used');
});
