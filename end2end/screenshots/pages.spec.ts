// Not part of the suite (`testDir` is ./tests): `scripts/screenshots` runs it to write a picture
// of every page at phone and desktop widths, in both themes, logged out and logged in, into
// target/screenshots/, for a person to look at. Nothing here asserts.
import { test } from '@playwright/test';
import { openAccountMenu, registerNewPerson, waitForHydration } from '../tests/helpers';

const OUT = process.env.SCREENSHOTS_DIR ?? '../target/screenshots';
const WIDTHS = [320, 390, 1280];

for (const colorScheme of ['light', 'dark'] as const) {
  for (const width of WIDTHS) {
    test(`${colorScheme} ${width}`, async ({ page }) => {
      await page.emulateMedia({ colorScheme });
      await page.setViewportSize({ width, height: 900 });
      const shot = async (name: string) =>
        page.screenshot({ path: `${OUT}/${name}-${width}-${colorScheme}.png`, fullPage: true });
      for (const [name, path] of [['home', '/'], ['login', '/login'], ['register', '/register'], ['forgot', '/forgot'], ['reset-expired', '/reset?link=expired'], ['verify', '/verify'], ['verify-invalid', '/verify?link=invalid'], ['confirm-email-expired', '/confirm-email?link=expired'], ['undo-email-restored', '/undo-email?done=restored'], ['not-found', '/nope']]) {
        await page.goto(path);
        await waitForHydration(page);
        await shot(`out-${name}`);
      }
      await registerNewPerson(page, `shot${width}${colorScheme}`);
      for (const [name, path] of [['home', '/'], ['profile', '/profile'], ['sessions', '/sessions'], ['activity', '/activity'], ['verify', '/verify']]) {
        await page.goto(path);
        await waitForHydration(page);
        await shot(`in-${name}`);
      }
      await openAccountMenu(page);
      await shot('in-menu');
    });
  }
}
