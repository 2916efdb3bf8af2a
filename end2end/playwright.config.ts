import { defineConfig } from '@playwright/test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// The server under test: the binary `cargo leptos build` made, on its own port, with a fresh
// database and a 10-second access token so that expiry and refresh happen within a test. Shorter
// tokens make the suite flaky on a loaded machine: a step that takes longer than the token lives
// (a slow hydration, say) would meet a second expiry the test did not plan for.
const port = Number(process.env.E2E_PORT ?? 3100);
export const ACCESS_TOKEN_SECONDS = 10;
// Short, so that a test can replay a rotated refresh token past the window without a long wait.
export const REFRESH_REUSE_GRACE_SECONDS = 2;
const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-e2e-'));
// A real development mail server (maildev, from npm): the app sends to its SMTP port, and the
// tests read what arrived from its HTTP API (see tests/mail.ts).
export const MAILDEV_SMTP_PORT = Number(process.env.E2E_SMTP_PORT ?? 3125);
export const MAILDEV_API = `http://127.0.0.1:${Number(process.env.E2E_MAILDEV_PORT ?? 3180)}`;
// A second server whose reset links live seconds, so that a test can open one that expired,
// and whose proof of who is behind a session (step-up) lasts seconds, so that a test can see
// it go stale.
export const SHORT_LINKS_SECONDS = 3;
export const SHORT_LINKS_URL = `http://127.0.0.1:${port + 1}`;
export const STEP_UP_SECONDS = 5;
// Passkeys need a name as their relying party: browsers refuse an IP address. Without a
// `PUBLIC_URL` that names a host, the server takes `localhost` on any port.
export const LOCALHOST_URL = `http://localhost:${port}`;
export const SHORT_LOCALHOST_URL = `http://localhost:${port + 1}`;

/** The app's settings, on `listen` with its own database `name`, and `extra` on top. */
function appServer(listen: number, name: string, extra: Record<string, string>) {
  return {
    command: './target/debug/gatehouse',
    cwd: '..',
    url: `http://127.0.0.1:${listen}/`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'ignore' as const,
    stderr: 'pipe' as const,
    env: {
      LEPTOS_SITE_ADDR: `127.0.0.1:${listen}`,
      LEPTOS_SITE_ROOT: 'target/site',
      LEPTOS_OUTPUT_NAME: 'gatehouse',
      DATABASE_URL: `sqlite://${join(dataDir, `${name}.db`)}`,
      ACCESS_TOKEN_EXPIRY: `${ACCESS_TOKEN_SECONDS}s`,
      REFRESH_REUSE_GRACE: `${REFRESH_REUSE_GRACE_SECONDS}s`,
      // Every test registers or logs in from 127.0.0.1; the limit itself is proven in
      // tests/integration/security/, so here it only needs to stay out of the way.
      IP_ATTEMPTS_PER_MINUTE: '600',
      SMTP_URL: `smtp://127.0.0.1:${MAILDEV_SMTP_PORT}`,
      MAIL_FROM: 'Gatehouse <no-reply@example.org>',
      PUBLIC_URL: `http://127.0.0.1:${listen}`,
      RUST_LOG: 'warn',
      ...extra,
    },
  };
}

export default defineConfig({
  testDir: './tests',
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: true,
  workers: 2,
  forbidOnly: !!process.env.CI,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    trace: 'retain-on-failure',
    launchOptions: {
      // Debian's Chromium: Playwright's own browser download cannot work on these machines.
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ],
    },
  },
  webServer: [{
    command: `npx maildev --smtp ${MAILDEV_SMTP_PORT} --ip 127.0.0.1 --web ${new URL(MAILDEV_API).port} --web-ip 127.0.0.1 --mail-directory ${join(dataDir, 'mail')}`,
    url: `${MAILDEV_API}/api/healthz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'ignore',
    stderr: 'pipe',
  },
  appServer(port, 'e2e', {}),
  appServer(port + 1, 'short-links', {
    PASSWORD_RESET_EXPIRY: `${SHORT_LINKS_SECONDS}s`,
    STEP_UP_WINDOW: `${STEP_UP_SECONDS}s`,
  }),
  ],
});
