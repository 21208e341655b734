import type { Browser } from 'playwright-core';

const CHROMIUM = process.env.GAFFER_CHROMIUM ?? '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
];

/**
 * One dashboard open on its overview page, in a real headless Chromium: whatever the
 * dashboard polls or streams (GET /api/v1/live, the queries it refreshes) is what it costs.
 * Counts the API requests it makes, so the report can say what "a dashboard open" did.
 */
export class OpenDashboard {
  private readonly requests = new Map<string, number>();

  private constructor(private readonly browser: Browser) {}

  static async open(serverUrl: string): Promise<OpenDashboard> {
    // Loaded here, not at the top: `npm run bench -- --help` should not pay for it.
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    const d = new OpenDashboard(browser);
    try {
      const page = await browser.newPage();
      page.on('request', (r) => {
        const path = new URL(r.url()).pathname;
        if (path.startsWith('/api/')) d.requests.set(path, (d.requests.get(path) ?? 0) + 1);
      });
      await page.goto(`${serverUrl}/`);
      await page.getByTestId('live-status').getByText('Live').waitFor({ timeout: 30_000 });
      return d;
    } catch (err) {
      await browser.close();
      throw err;
    }
  }

  /** API requests made since the last call, by path. */
  takeRequests(): Record<string, number> {
    const out = Object.fromEntries(this.requests);
    this.requests.clear();
    return out;
  }

  close(): Promise<void> {
    return this.browser.close();
  }
}
