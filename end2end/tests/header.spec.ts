import { expect, test } from '@playwright/test';
import {
  accountMenu, expectProfileOf, fillRegister, openAccountMenu, registerNewPerson, uniqueName, waitForHydration,
} from './helpers';

test('the account menu opens from the keyboard, leads to the pages, closes on Escape or a click elsewhere, and logs out', async ({ page }) => {
  await registerNewPerson(page, 'menu');
  const summary = accountMenu(page).locator('button[popovertarget]');
  await summary.focus();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('link', { name: 'Devices', exact: true })).toBeVisible();
  await page.getByRole('link', { name: 'Devices', exact: true }).click();
  await expect(page).toHaveURL(/\/sessions$/);
  // The new page starts with the keyboard at the top of its content, as a full load would.
  await expect(page.locator('main')).toBeFocused();
  // The menu closed once something in it was chosen.
  await expect(page.getByRole('link', { name: 'Devices', exact: true })).toBeHidden();

  // Escape closes it, and the keyboard is back on the menu's button; so does a click elsewhere.
  await openAccountMenu(page);
  await expect(page.getByRole('link', { name: 'Devices', exact: true })).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(page.getByRole('link', { name: 'Devices', exact: true })).toBeHidden();
  await expect(summary).toBeFocused();
  await openAccountMenu(page);
  await page.locator('main h1').click();
  await expect(page.getByRole('link', { name: 'Devices', exact: true })).toBeHidden();

  await openAccountMenu(page);
  await accountMenu(page).getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(/\/login\?signed_out=here$/);
  await expect(page.getByRole('status')).toHaveText('You have been logged out on this device.');
  await expect(accountMenu(page)).toHaveCount(0);
  await expect(page.locator('header nav').getByRole('link', { name: 'Log in' })).toBeVisible();
});

test('someone logged in who opens the login or register page goes on to where they were headed', async ({ page }) => {
  const name = await registerNewPerson(page, 'onward');
  await page.goto('/login');
  await expectProfileOf(page, name);
  await page.goto('/register?next=%2Fsessions');
  await expect(page).toHaveURL(/\/sessions$/);
  await waitForHydration(page);
  await expect(page.getByTestId('session')).toHaveCount(1);
});

test('the home page offers a logged-in person their account, and a visitor the ways in', async ({ page, browser }) => {
  await registerNewPerson(page, 'homely');
  await page.goto('/');
  const main = page.locator('main');
  await expect(main.getByRole('link', { name: 'Go to your profile' })).toBeVisible();
  await expect(main.getByRole('link', { name: 'Create an account' })).toHaveCount(0);
  await waitForHydration(page);
  await main.getByRole('link', { name: 'Your devices' }).click();
  await expect(page).toHaveURL(/\/sessions$/);

  const visitor = await browser.newPage({ baseURL: test.info().project.use.baseURL });
  await visitor.goto('/');
  await expect(visitor.locator('main').getByRole('link', { name: 'Create an account' })).toBeVisible();
  await expect(visitor.locator('main').getByRole('link', { name: 'Go to your profile' })).toHaveCount(0);
  await visitor.close();
});

test('after logging in, the back button does not show the login form again', async ({ page }) => {
  const name = uniqueName('back');
  await page.goto('/register');
  await waitForHydration(page);
  await page.getByRole('link', { name: 'Log in' }).last().click();
  await expect(page).toHaveURL(/\/login/);
  await page.goto('/register');
  await waitForHydration(page);
  await fillRegister(page, name);
  await expectProfileOf(page, name);
  await page.goBack();
  await expectProfileOf(page, name);
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('the server sends someone logged in on from the login page, and the menu works', async ({ page }) => {
    await page.goto('/register');
    const name = uniqueName('nojsmenu');
    await fillRegister(page, name);
    await expectProfileOf(page, name);

    const response = await page.goto('/login?next=%2Fsessions');
    expect(response?.request().redirectedFrom()?.url()).toContain('/login');
    await expect(page).toHaveURL(/\/sessions$/);

    await openAccountMenu(page);
    await accountMenu(page).getByRole('button', { name: 'Log out' }).click();
    await expect(page).toHaveURL(/\/login\?signed_out=here$/);
    await expect(page.getByRole('status')).toHaveText('You have been logged out on this device.');
    await expect(page.locator('header nav').getByRole('link', { name: 'Log in' })).toBeVisible();
  });
});
