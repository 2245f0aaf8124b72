/**
 * The dashboard's browser tests: Debian's Chromium driven by playwright-core (never a downloaded browser),
 * a page of the usual desktop size, and signing in with a platform's token.
 */
import { chromium, type Browser, type BrowserContextOptions, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
}

/** A page 1280x900 (unless `options` says otherwise) whose waits give up after 60 s. */
export async function openPage(browser: Browser, options: BrowserContextOptions = {}): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, ...options });
  page.setDefaultTimeout(60_000);
  return page;
}

/** Signs in on the dashboard with the token and waits for the projects overview. */
export async function signIn(page: Page, p: { apiUrl: string; token: string }): Promise<void> {
  await page.goto(`${p.apiUrl}/ui/`);
  await page.getByLabel('API token').fill(p.token);
  await page.getByLabel('API token').press('Enter');
  await page.getByRole('heading', { level: 1, name: 'Projects' }).waitFor();
}
