import { access, mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SCREENSHOTS = `${ROOT}test-output/screenshots`;

/**
 * The stack serves ui/dist as the global setup built it for this run. Test files do not rebuild it;
 * the one that runs `npm start` does, and that build replaces each file whole (scripts/build-ui.ts),
 * so the other test files serving ui/dist meanwhile never see it emptied.
 */
export async function buildUi(): Promise<void> {
  await access(`${ROOT}ui/dist/index.html`);
}

/** Debian's Chromium, headless; never a browser downloaded by Playwright. */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: `${SCREENSHOTS}/${name}.png`, fullPage: true });
}

/**
 * Opens the UI at `url` and submits `secret` on its sign-in form; the caller waits for the page it
 * expects. The first load in a fresh context took over the default 15 s in CI (2 cores, other
 * suites' stacks running): the form, or the UI's boot error, gets a deadline of its own, and a boot
 * error fails with its text rather than a timeout on a form that will never come.
 */
export async function signInAt(page: Page, url: string, secret: string): Promise<void> {
  await page.goto(url);
  const form = page.getByLabel('API key');
  const bootError = page.getByRole('alert');
  await form.or(bootError).first().waitFor({ timeout: 60_000 });
  if (await bootError.isVisible()) throw new Error(`the UI did not start: ${await bootError.innerText()}`);
  await form.fill(secret);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Waits for a condition with a deadline: no sleeps as synchronisation. */
export async function until(done: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`still waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
