import { APIRequestContext, expect } from '@playwright/test';
import { MAILDEV_API } from '../playwright.config';

/** A message as maildev's API gives it. */
export interface Mail {
  subject: string;
  text: string;
  to: { address: string }[];
}

/** Waits for the newest message to `address` whose subject is `subject`, and returns it. */
export async function mailTo(request: APIRequestContext, address: string, subject: string): Promise<Mail> {
  return (await mailsTo(request, address, subject, 1)).pop()!;
}

/** Waits until `count` messages to `address` with `subject` have arrived; returns them, oldest first. */
export async function mailsTo(request: APIRequestContext, address: string, subject: string, count: number): Promise<Mail[]> {
  let found: Mail[] = [];
  await expect.poll(async () => {
    const response = await request.get(`${MAILDEV_API}/api/email`);
    const all = (await response.json()) as Mail[];
    found = all.filter((m) => m.subject === subject && m.to.some((t) => t.address === address));
    return found.length >= count;
  }, { message: `${count} mails "${subject}" to ${address}`, timeout: 15_000 }).toBe(true);
  return found;
}

/** The link in a message that leads to `path`. */
export function linkTo(mail: Mail, path: string): string {
  const match = mail.text.match(new RegExp(`https?://\\S+${path}\\?\\S+`));
  expect(match, `a link to ${path} in: ${mail.text}`).not.toBeNull();
  return match![0];
}
