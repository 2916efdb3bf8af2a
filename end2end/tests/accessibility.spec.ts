import AxeBuilder from '@axe-core/playwright';
import { expect, Page, test } from '@playwright/test';
import { registerNewPerson, waitForHydration } from './helpers';

const PUBLIC_PAGES = [
  '/', '/login', '/register', '/forgot', '/reset?link=expired', '/verify', '/verify?link=invalid',
  '/confirm-email?link=expired', '/undo-email?link=invalid', '/no-such-page',
];
// The profile shows the unconfirmed address's badge and its "send again" card.
const ACCOUNT_PAGES = ['/', '/profile', '/sessions', '/activity', '/security', '/verify'];

/** axe-core's findings on the page as it stands, one line each, for a readable failure. */
async function violations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations.flatMap((v) =>
    v.nodes.map((node) => `${v.id} (${v.impact}): ${node.target.join(' ')}: ${node.failureSummary ?? ''}`),
  );
}

async function visit(page: Page, path: string) {
  await page.goto(path);
  await waitForHydration(page);
}

for (const colorScheme of ['light', 'dark'] as const) {
  test(`every page has no axe-core violation in the ${colorScheme} theme, logged out and logged in`, async ({ page }) => {
    await page.emulateMedia({ colorScheme });
    for (const path of PUBLIC_PAGES) {
      await visit(page, path);
      expect(await violations(page), `${path}, logged out`).toEqual([]);
    }
    await registerNewPerson(page, `axe${colorScheme}`);
    for (const path of ACCOUNT_PAGES) {
      await visit(page, path);
      expect(await violations(page), `${path}, logged in`).toEqual([]);
    }
  });
}

for (const width of [320, 390]) {
  test(`nothing scrolls sideways at ${width} px, logged out and logged in`, async ({ page }) => {
    await page.setViewportSize({ width, height: 800 });
    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    for (const path of PUBLIC_PAGES) {
      await visit(page, path);
      expect(await overflow(), `${path}, logged out`).toBeLessThanOrEqual(0);
    }
    await registerNewPerson(page, `w${width}`);
    for (const path of ACCOUNT_PAGES) {
      await visit(page, path);
      expect(await overflow(), `${path}, logged in`).toBeLessThanOrEqual(0);
    }
  });
}
