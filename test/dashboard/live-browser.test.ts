/**
 * The live dashboard in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core), on a
 * real metrics server with a bearer token while events flow: charts draw, shown values agree with the
 * scrape, a reload keeps the history, tag values are inert text, and the CSP holds.
 *
 * Screenshots go to test-artifacts/. With UPDATE_DOCS_SCREENSHOT=1 the demo screenshot also replaces
 * docs/images/dashboard.png (the README picture), except under CI, which never writes into the repository.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startDemo } from '../../src/cli/demo/start.js';
import { DASHBOARD_CSP, mountDashboard } from '../../src/dashboard/index.js';
import { counter, distribution, execute, lastValue, summary, Telemeter } from '../../src/index.js';
import { serveMetrics } from '../../src/server/index.js';
import { requireTool } from '../support/tools.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = requireTool(CHROMIUM, { debianPackage: 'chromium', name: 'chromium' });
const TOKEN = 'browser-test-token';
const PAYLOAD = '<img src=x onerror=alert(1)>';
const SCRIPT_PAYLOAD = '</script><script>alert(2)</script>';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

let browser: Browser;
beforeAll(async () => {
  if (!hasChromium) return;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-gpu',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
});
afterAll(async () => {
  await browser?.close();
});

/** A page that records dialogs, console errors, page errors and CSP violations. */
async function openPage(): Promise<{ page: Page; problems: string[]; dialogs: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  cleanups.push(() => context.close());
  const page = await context.newPage();
  const problems: string[] = [];
  const dialogs: string[] = [];
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  page.on('console', (message) => {
    // Failed loads are reported below, with their URL.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      problems.push(`console: ${message.text()}`);
    }
  });
  page.on('response', (response) => {
    if (response.status() >= 400) problems.push(`${response.status()} ${response.url()}`);
  });
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  // Injected by the browser's devtools protocol, so the page's CSP does not apply to it.
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) => {
      console.error(`CSP violation: ${event.violatedDirective} ${event.blockedURI}`);
    });
  });
  return { page, problems, dialogs };
}

/** Legend rows of a metric's chart: label → shown value. */
async function legend(page: Page, metric: string): Promise<Record<string, string>> {
  return page.evaluate((name) => {
    const card = Array.from(document.querySelectorAll<HTMLElement>('article.card')).find(
      (c) => c.dataset.metric === name,
    );
    const rows: Record<string, string> = {};
    for (const row of Array.from(card?.querySelectorAll('.u-legend .u-series') ?? [])) {
      const label = row.querySelector('.u-label')?.textContent ?? '';
      if (label !== 'time') rows[label] = row.querySelector('.u-value')?.textContent ?? '';
    }
    return rows;
  }, metric);
}

type Range = readonly [number, number];

/** Pixels of a canvas in a metric's card whose colour falls in the given RGB ranges. */
async function pixelsIn(page: Page, metric: string, selector: string, rgb: readonly [Range, Range, Range]) {
  return page.evaluate(
    ({ name, sel, ranges }) => {
      const card = Array.from(document.querySelectorAll<HTMLElement>('article.card')).find(
        (c) => c.dataset.metric === name,
      );
      const canvas = card?.querySelector<HTMLCanvasElement>(sel);
      if (!canvas || canvas.width === 0) return 0;
      const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
      let count = 0;
      for (let i = 0; i < data.length; i += 4) {
        if (data[i + 3] < 128) continue;
        if (ranges.every(([lo, hi], c) => data[i + c] >= lo && data[i + c] <= hi)) count++;
      }
      return count;
    },
    { name: metric, sel: selector, ranges: rgb },
  );
}

/** The first line colour of a chart, #2563eb, with room for antialiasing. */
const FIRST_LINE: readonly [Range, Range, Range] = [
  [0, 110],
  [50, 160],
  [190, 255],
];
/** Heatmap cells from orange to dark red; the light background and grey labels fall outside. */
const HEAT: readonly [Range, Range, Range] = [
  [120, 255],
  [0, 230],
  [0, 130],
];

/** Runs `tick` every `everyMs` until stopped or `maxTicks` ticks have run. */
function traffic(tick: () => void, everyMs: number, maxTicks: number) {
  let ticks = 0;
  const timer = setInterval(() => {
    if (++ticks > maxTicks) clearInterval(timer);
    else tick();
  }, everyMs);
  return { stop: () => clearInterval(timer) };
}

describe.skipIf(!hasChromium)('live dashboard in Chromium', () => {
  it('charts live data that agrees with the scrape, keeps history across a reload, and renders tags as text', async () => {
    const telemeter = new Telemeter({
      metrics: [
        counter('shop.request.count', {
          eventName: 'shop.request.stop',
          measurement: 'duration',
          tags: ['route'],
        }),
        distribution('shop.request.stop.duration', {
          unit: ['native', 'millisecond'],
          tags: ['route'],
          reporterOptions: { buckets: [1, 5, 10, 50, 100] },
        }),
        lastValue('shop.queue.depth', { tags: ['queue'] }),
        summary('shop.db.query.stop.duration', { unit: ['native', 'millisecond'] }),
        lastValue('shop.label.value', { tags: ['label'] }),
      ],
    });
    cleanups.push(() => telemeter.close());
    const server = await serveMetrics(telemeter, { port: 0, host: '127.0.0.1', auth: { bearer: TOKEN } });
    cleanups.push(() => server.close());
    const dashboard = mountDashboard(server, telemeter);
    cleanups.push(() => dashboard.stop());
    const base = `http://127.0.0.1:${server.port}/dashboard`;

    execute('shop.queue', { depth: 42 }, { queue: 'mail' });
    execute('shop.label', { value: 1 }, { label: PAYLOAD });
    execute('shop.label', { value: 2 }, { label: SCRIPT_PAYLOAD });
    let executed = 0;
    // 4 requests on /cart and 1 on /products every 20 ms: at most 200 + 50 events/s, at most 60 s.
    const flow = traffic(
      () => {
        for (let i = 0; i < 5; i++) {
          const route = i < 4 ? '/cart' : '/products';
          execute('shop.request.stop', { duration: (1 + ((executed * 7) % 60)) * 1_000_000 }, { route });
          execute('shop.db.query.stop', { duration: (1 + (executed % 9)) * 1_000_000 });
          executed++;
        }
      },
      20,
      3000,
    );
    cleanups.push(() => flow.stop());

    const { page, problems, dialogs } = await openPage();

    // Without the token: refused.
    const refused = await page.goto(base);
    expect(refused?.status()).toBe(401);
    expect(problems).toEqual([`401 ${base}`]);
    problems.length = 0;

    // With it once: signed in, moved on to the path without the token.
    await page.goto(`${base}?token=${TOKEN}`);
    await page.waitForURL(base);
    const reply = await page.reload();
    expect(reply?.status()).toBe(200);
    const headers = reply!.headers();
    expect(headers['content-security-policy']).toBe(DASHBOARD_CSP);
    expect(headers['x-content-type-options']).toBe('nosniff');
    expect(headers['referrer-policy']).toBe('no-referrer');

    // Charts fill in as the sampler runs: a rate above 0 on /cart.
    await page.waitForFunction(
      () => {
        const card = document.querySelector<HTMLElement>('article.card[data-metric="shop.request.count"]');
        const values = Array.from(card?.querySelectorAll('.u-legend .u-series .u-value') ?? []).slice(1);
        return values.length === 2 && values.every((v) => Number.parseFloat(v.textContent ?? '') > 0);
      },
      undefined,
      { timeout: 20_000 },
    );
    await page.waitForFunction(() => Number(document.body.dataset.points) >= 4, undefined, {
      timeout: 20_000,
    });

    const rates = await legend(page, 'shop.request.count');
    expect(Object.keys(rates)).toEqual(['route=/cart', 'route=/products']);
    const cartRate = Number.parseFloat(rates['route=/cart']);
    expect(cartRate).toBeGreaterThan(0);
    expect(cartRate).toBeLessThanOrEqual(250); // driven at no more than 200 events/s on /cart

    // The gauge shows what the scrape says.
    const depth = await legend(page, 'shop.queue.depth');
    const scraped = /^shop_queue_depth\{queue="mail"\} (\S+)$/m.exec(telemeter.scrape());
    expect(scraped?.[1]).toBe('42');
    expect(depth['queue=mail']).toBe(scraped![1]);

    // Quantile lines and the heatmap for the distribution, quantile lines for the summary.
    const quantiles = await legend(page, 'shop.request.stop.duration');
    expect(Object.keys(quantiles)).toEqual(['p50', 'p90', 'p99']);
    for (const value of Object.values(quantiles)) {
      expect(Number.parseFloat(value)).toBeGreaterThan(0);
      expect(Number.parseFloat(value)).toBeLessThanOrEqual(100);
    }
    const summaryLegend = await legend(page, 'shop.db.query.stop.duration');
    expect(Number.parseFloat(summaryLegend.p50)).toBeGreaterThan(0);

    // Canvases carry drawn pixels: uPlot's lines and the heatmap's cells.
    expect(await pixelsIn(page, 'shop.request.count', '.u-wrap canvas', FIRST_LINE)).toBeGreaterThan(100);
    expect(await pixelsIn(page, 'shop.request.stop.duration', 'canvas.heatmap', HEAT)).toBeGreaterThan(100);

    // Status strip.
    const status = await page.evaluate(() =>
      Object.fromEntries(
        Array.from(document.querySelectorAll<HTMLElement>('#status .stat[data-stat]')).map((s) => [
          s.dataset.stat,
          s.querySelector('.stat-value')?.textContent,
        ]),
      ),
    );
    expect(Object.keys(status)).toEqual([
      'uptime',
      'scrapes',
      'dropped events',
      'series',
      'charted',
      'history',
    ]);
    // 2 routes × 2 metrics, 1 queue, 1 summary, 2 labels, and the scrape-duration histogram (no tags).
    expect(status.series).toBe('9');
    expect(status['dropped events']).toBe('0');
    expect(status.history).toBe('15m 00s at 1 s');

    // Tag values are text: the payloads show literally, nothing was injected, nothing ran.
    const labels = await legend(page, 'shop.label.value');
    expect(Object.keys(labels).sort()).toEqual([`label=${SCRIPT_PAYLOAD}`, `label=${PAYLOAD}`].sort());
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.locator('script').count()).toBe(1);
    const options = await page.locator('select[data-tag="label"] option').allTextContents();
    expect(options).toContain(PAYLOAD);
    expect(options).toContain(SCRIPT_PAYLOAD);
    // Filtering by the payload sends it as a query parameter and narrows the chart to its series.
    await page.locator('select[data-tag="label"]').selectOption(PAYLOAD);
    await page.waitForFunction(
      () =>
        document.querySelectorAll('article.card[data-metric="shop.label.value"] .u-legend .u-series')
          .length === 2,
      undefined,
      { timeout: 10_000 },
    );
    expect(Object.keys(await legend(page, 'shop.label.value'))).toEqual([`label=${PAYLOAD}`]);
    expect(await page.locator('img').count()).toBe(0);

    // A reload keeps the history: it lives on the server.
    const before = Number(await page.evaluate(() => document.body.dataset.points));
    await page.reload();
    await page.waitForFunction((n) => Number(document.body.dataset.points) >= n, before, { timeout: 10_000 });
    const after = Number(await page.evaluate(() => document.body.dataset.points));
    expect(after).toBeGreaterThanOrEqual(before);

    mkdirSync('test-artifacts', { recursive: true });
    await page.screenshot({ path: 'test-artifacts/dashboard.png' });

    // Stop the traffic; once a later sample is in, the rates integrate to exactly the events counted.
    flow.stop();
    const ticksAtStop = dashboard.history.timeline.ticks;
    for (let attempt = 0; attempt < 50 && dashboard.history.timeline.ticks === ticksAtStop; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(dashboard.history.timeline.ticks).toBeGreaterThan(ticksAtStop);
    // Fetched by the page, with its session cookie.
    const data = await page.evaluate(async () => (await fetch('/dashboard/api/data')).json());
    const times: number[] = data.times;
    const countSeries = data.metrics[0].series as Array<{ tags: string[]; values: (number | null)[] }>;
    for (const series of countSeries) {
      let integral = 0;
      for (let i = 1; i < times.length; i++)
        integral += (series.values[i] ?? 0) * ((times[i] - times[i - 1]) / 1000);
      const counted = Number(
        new RegExp(`^shop_request_count_total\\{route="${series.tags[0]}"\\} (\\S+)$`, 'm').exec(
          telemeter.scrape(),
        )![1],
      );
      expect(counted).toBeGreaterThan(0);
      expect(integral).toBeCloseTo(counted, 6);
    }

    expect(dialogs).toEqual([]);
    expect(problems).toEqual([]);
  });

  it('runs in the demo: every metric gets a chart and the page stays free of errors', async () => {
    const demo = await startDemo({
      port: 0,
      metricsPort: 0,
      token: TOKEN,
      trafficRate: 40,
      pollPeriod: 1000,
    });
    cleanups.push(() => demo.stop());
    const base = `${demo.metricsServer.url.replace(/\/metrics$/, '')}/dashboard`;
    const { page, problems, dialogs } = await openPage();
    await page.goto(`${base}?token=${TOKEN}`);
    await page.waitForURL(base);
    // Prometheus would scrape meanwhile: a few scrapes, so the status strip counts them.
    for (let i = 0; i < 3; i++) {
      const scrape = await fetch(demo.metricsUrl, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(scrape.status).toBe(200);
      await scrape.text();
    }
    // Enough samples for the charts to read as a history.
    await page.waitForFunction(() => Number(document.body.dataset.points) >= 20, undefined, {
      timeout: 40_000,
    });
    const scrapes = await page.locator('#status .stat[data-stat="scrapes"] .stat-value').textContent();
    expect(scrapes).toBe('3');
    const cards = await page.locator('article.card').count();
    expect(cards).toBe(demo.dashboard.history.meta().metrics.length);
    expect(await page.locator('section.group h2').allTextContents()).toEqual(
      expect.arrayContaining(['http', 'vm', 'shop', 'telemeter']),
    );
    const rates = await legend(page, 'http_server_requests_total');
    expect(Object.values(rates).some((v) => Number.parseFloat(v) > 0)).toBe(true);
    await page.evaluate(() => window.scrollTo(0, 0));
    mkdirSync('test-artifacts', { recursive: true });
    const png = await page.screenshot({ path: 'test-artifacts/dashboard-demo.png' });
    if (process.env.UPDATE_DOCS_SCREENSHOT === '1') {
      const ci = process.env.CI;
      if (ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false') {
        throw new Error('UPDATE_DOCS_SCREENSHOT=1 under CI: files of the repository are never written in CI');
      }
      mkdirSync('docs/images', { recursive: true });
      writeFileSync('docs/images/dashboard.png', png);
    }
    expect(dialogs).toEqual([]);
    expect(problems).toEqual([]);
  });
});
