import { expect, Page, test } from '@playwright/test';
import { LOCALHOST_URL, SHORT_LOCALHOST_URL, STEP_UP_SECONDS } from '../playwright.config';
import { axe, fillLogin, registerNewPerson, totp, waitForHydration } from './helpers';

/**
 * Chromium's virtual authenticator (the DevTools WebAuthn domain): a platform authenticator that
 * keeps discoverable credentials and verifies its user, as a laptop's fingerprint reader does.
 */
async function authenticator(page: Page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return {
    credentials: async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials,
  };
}

async function openSecurity(page: Page) {
  await page.goto('/security');
  await waitForHydration(page);
}

async function addPasskey(page: Page, name: string) {
  await page.getByLabel('Name it, to tell it from others later').fill(name);
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await expect(page.getByTestId('passkeys')).toContainText(name);
}

test.describe('passkeys', () => {
  // Passkeys need a host name as their relying party (browsers refuse an IP address).
  test.use({ baseURL: LOCALHOST_URL });

  test('a passkey added on the security page signs in alone from the autofill, serves as a second step, and once removed signs nobody in', async ({ page }) => {
    const device = await authenticator(page);
    const name = await registerNewPerson(page, 'passkey');
    await openSecurity(page);
    await expect(page.getByRole('button', { name: 'Add a passkey' })).toBeVisible();
    for (const colorScheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme });
      expect(await axe(page), `the security page, ${colorScheme}`).toEqual([]);
    }
    await addPasskey(page, 'Test laptop');
    await expect(page.getByTestId('passkeys')).toContainText('never used');
    const held = await device.credentials();
    expect(held).toHaveLength(1);
    expect(held[0].isResidentCredential, 'a passkey that names its account').toBe(true);
    await page.screenshot({ path: '../target/screenshots/passkeys-added.png', fullPage: true });
    for (const width of [320, 390]) {
      await page.setViewportSize({ width, height: 800 });
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow, `the security page at ${width} px`).toBeLessThanOrEqual(0);
    }
    await page.screenshot({ path: '../target/screenshots/passkeys-390.png', fullPage: true });
    await page.setViewportSize({ width: 1280, height: 720 });

    // Signed out, the login page asks the browser for a passkey as it opens, for its autofill;
    // the virtual authenticator answers at once (a person would pick it from the username
    // field's list), and the passkey signs in alone.
    await page.context().clearCookies();
    await page.goto('/login?next=/sessions');
    await expect(page).toHaveURL(/\/sessions$/);
    await expect(page.getByTestId('method').first()).toHaveText('Passkey');

    // From here on, a browser without that autofill: the buttons are the way.
    await page.addInitScript(() => {
      PublicKeyCredential.isConditionalMediationAvailable = async () => false;
    });

    // With an authenticator app on too, the second step takes the passkey in place of a code.
    await openSecurity(page);
    await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
    const secret = (await page.getByTestId('totp-secret').textContent())!.trim();
    await page.getByLabel('Code from the app').fill(totp(secret));
    await page.getByRole('button', { name: 'Turn on' }).click();
    await expect(page.getByTestId('recovery-codes').locator('li')).toHaveCount(10);
    await page.context().clearCookies();
    await page.goto('/login');
    await waitForHydration(page);
    await fillLogin(page, name);
    await expect(page.getByRole('heading', { name: 'Two-step verification' })).toBeVisible();
    const usePasskey = page.getByRole('button', { name: 'Use a passkey instead' });
    await expect(usePasskey).toBeVisible();
    expect(await axe(page), 'the second step with a passkey').toEqual([]);
    await page.screenshot({ path: '../target/screenshots/passkeys-second-step.png', fullPage: true });
    await usePasskey.click();
    await expect(page).toHaveURL(/\/profile$/);

    // Removed from the account, the passkey still on the device signs nobody in.
    await openSecurity(page);
    await expect(page.getByTestId('passkeys')).toContainText('last used');
    await page.getByRole('button', { name: 'Remove' }).click();
    await expect(page.getByTestId('passkeys')).not.toContainText('Test laptop');
    await page.context().clearCookies();
    await page.goto('/login');
    await waitForHydration(page);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await expect(page.getByRole('alert').filter({ hasText: 'That passkey could not sign you in' })).toBeVisible();
    await expect(page).toHaveURL(/\/login$/);
  });
});

test.describe('a stale session', () => {
  // This server's proof of who is behind a session lasts STEP_UP_SECONDS.
  test.use({ baseURL: SHORT_LOCALHOST_URL });

  test('is asked to confirm before changing factors, and a passkey confirms it', async ({ page }) => {
    await authenticator(page);
    await registerNewPerson(page, 'stalekey');
    await page.waitForTimeout((STEP_UP_SECONDS + 1) * 1000);
    await openSecurity(page);
    // Asked up front, before any change is tried; without a passkey, with the password.
    await expect(page.getByRole('heading', { name: "Confirm it's you" })).toBeVisible();
    await expect(page.getByRole('button', { name: 'Confirm with a passkey instead' })).toHaveCount(0);
    await page.getByLabel('Your password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Confirm', exact: true }).click();
    await expect(page.getByRole('heading', { name: "Confirm it's you" })).toHaveCount(0);
    await addPasskey(page, 'Phone');

    await page.waitForTimeout((STEP_UP_SECONDS + 1) * 1000);
    await openSecurity(page);
    const withPasskey = page.getByRole('button', { name: 'Confirm with a passkey instead' });
    await expect(withPasskey).toBeVisible();
    for (const colorScheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme });
      expect(await axe(page), `"confirm it's you" with a passkey, ${colorScheme}`).toEqual([]);
    }
    await page.screenshot({ path: '../target/screenshots/passkeys-confirm.png', fullPage: true });
    await withPasskey.click();
    await expect(page.getByRole('heading', { name: "Confirm it's you" })).toHaveCount(0);
    await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
    await expect(page.getByRole('img', { name: 'QR code for your authenticator app' })).toBeVisible();
  });
});
