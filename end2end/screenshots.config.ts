// The browser-test setup (the server it starts, Chromium), pointed at the screenshot script
// instead of the suite: `scripts/screenshots` runs it.
import { defineConfig } from '@playwright/test';
import base from './playwright.config';

export default defineConfig({ ...base, testDir: './screenshots' });
