/**
 * The dashboard's browser tests: Debian's Chromium driven by playwright-core (never a downloaded browser),
 * a page of the usual desktop size, and signing in with a platform's token.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { chromium, type Browser, type BrowserContextOptions, type Page } from 'playwright-core';
import { ROOT, waitFor } from './platform.ts';

export const CHROMIUM = '/usr/bin/chromium';
const AXE = path.join(ROOT, 'node_modules/axe-core/axe.min.js');

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

/**
 * axe-core on the page as it is, in the light and the dark scheme: fails naming every serious or critical
 * violation. The page's context needs `bypassCSP` (axe is injected as a script tag).
 */
export async function assertAccessible(page: Page, what: string): Promise<void> {
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ path: AXE });
    const violations = await page.evaluate(async () => {
      const r = await (window as unknown as { axe: { run: (ctx: Document) => Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> } }).axe.run(document);
      return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    });
    assert.deepEqual(violations, [], `${what} (${colorScheme})`);
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

/** The error the page shows for a field: the element the input names in aria-describedby, ending "-error". */
export async function fieldError(page: Page, label: string, scope: Page | ReturnType<Page['locator']> = page): Promise<string> {
  const input = scope.getByLabel(label, { exact: true });
  await waitFor(async () => (await input.getAttribute('aria-invalid')) === 'true', 30_000, `${label} marked invalid`);
  const id = (await input.getAttribute('aria-describedby'))!.split(' ').find((x) => x.endsWith('-error'))!;
  return page.locator(`[id="${id}"]`).innerText();
}

export const PHONE = { width: 375, height: 812 };

/**
 * Sets the page to a phone's width and waits until nothing on it is wider than 375 px; fails naming the last
 * few elements that stick out. The caller sets its own viewport back.
 */
export async function assertFitsPhone(page: Page, what: string): Promise<void> {
  await page.setViewportSize(PHONE);
  const wide = () =>
    page.evaluate((w) => (document.documentElement.scrollWidth <= w ? [] : [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > w + 1).map((e) => `${e.tagName.toLowerCase()}.${e.className}`).slice(-5)), PHONE.width);
  await waitFor(async () => (await wide()).length === 0, 5_000, `${what} fits ${PHONE.width} px`).catch(async (err) => assert.fail(`${err.message}; too wide: ${(await wide()).join(', ')}`));
}
