import { expect, test } from '@playwright/test';
import { registerNewPerson, waitForHydration } from './helpers';

// ASVS V3.4.3 / V14.4.3: a Content-Security-Policy that the app itself lives within.
test('every page hydrates under its Content-Security-Policy and nothing is blocked', async ({ page }) => {
  const violations: string[] = [];
  page.on('console', (message) => {
    if (/Content.Security.Policy/i.test(message.text())) violations.push(message.text());
  });
  await page.exposeFunction('reportViolation', (v: string) => violations.push(v));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) =>
      (window as any).reportViolation(`${e.violatedDirective} ${e.blockedURI}`),
    );
  });

  for (const path of ['/', '/login', '/register', '/profile', '/sessions']) {
    const response = await page.goto(path);
    const policy = response!.headers()['content-security-policy'];
    expect(policy, path).toMatch(/script-src 'nonce-[A-Za-z0-9_-]{16,}'/);
    expect(policy, path).toContain("frame-ancestors 'none'");
    await waitForHydration(page);
    // Logged out, a page that needs a login moves on to the login page by itself.
    if (path === '/profile' || path === '/sessions') {
      await expect(page).toHaveURL(/\/login\?next=/);
      await waitForHydration(page);
    }
  }
  // The logged-in profile, reached through the client's calls, is covered too.
  await registerNewPerson(page, 'csp');
  await page.goto('/sessions');
  await expect(page.getByTestId('session')).toHaveCount(1);
  expect(violations).toEqual([]);
});

// ASVS V2.1.7: a common password is refused, and the form says why next to the field.
test('the register form refuses a common password and says why next to the field', async ({ page }) => {
  await page.goto('/register');
  await waitForHydration(page);
  await page.getByLabel('Email').fill('common@example.org');
  await page.getByLabel('Username').fill('commonplace');
  await page.getByLabel('Full name').fill('Someone');
  await page.getByLabel('Password').fill('password123');
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.locator('#field-password-error')).toContainText('common password');
  await expect(page.getByLabel('Password')).toHaveAttribute('aria-invalid', 'true');
  await expect(page).toHaveURL(/\/register/);
});

// A link can carry a form error in its URL (`?__err=`, how a form posted without JavaScript comes
// back); the page shows our own message for its code, never the link's text, before and after
// the WASM client takes over.
test('a login link carrying a forged error shows our message, never the text of the link', async ({ page }) => {
  const forged = JSON.stringify({
    code: 'invalid_credentials',
    message: 'Your account is locked. Call +1 555 0100 to unlock it.',
  });
  // URL-safe base64 with its padding, as the server writes it.
  const err = Buffer.from(forged).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
  await page.goto(`/login?__path=/api/auth/login&__err=${encodeURIComponent(err)}`);
  const alert = page.locator('.form-error');
  await expect(alert).toHaveText('That login and password do not match an account.');
  await waitForHydration(page);
  await expect(alert).toHaveText('That login and password do not match an account.');
  await expect(page.locator('body')).not.toContainText('555 0100');
});
