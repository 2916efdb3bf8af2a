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

  for (const path of ['/', '/login', '/register', '/profile']) {
    const response = await page.goto(path);
    const policy = response!.headers()['content-security-policy'];
    expect(policy, path).toMatch(/script-src 'nonce-[A-Za-z0-9_-]{16,}'/);
    expect(policy, path).toContain("frame-ancestors 'none'");
    await waitForHydration(page);
  }
  // The logged-in profile, reached through the client's calls, is covered too.
  await registerNewPerson(page, 'csp');
  expect(violations).toEqual([]);
});
