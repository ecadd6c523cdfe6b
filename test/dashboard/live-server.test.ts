/**
 * The live dashboard over HTTP, on a real metrics server on loopback: routes, content types, security
 * headers, the JSON API, gzip, and auth inherited from the server.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { DASHBOARD_CSP, liveDashboard, mountDashboard } from '../../src/dashboard/index.js';
import { counter, distribution, execute, lastValue, Telemeter } from '../../src/index.js';
import { type ServeMetricsOptions, serveMetrics } from '../../src/server/index.js';
import { send } from '../server/http-client.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function start(options: ServeMetricsOptions = {}) {
  const telemeter = new Telemeter({
    metrics: [
      counter('dash.http.request.count', {
        eventName: 'dash.http.request',
        measurement: 'duration',
        tags: ['route'],
      }),
      distribution('dash.http.request.duration', {
        tags: ['route'],
        reporterOptions: { buckets: [1, 10, 100] },
      }),
      lastValue('dash.queue.depth', { tags: ['queue'] }),
    ],
  });
  cleanups.push(() => telemeter.close());
  const server = await serveMetrics(telemeter, { port: 0, host: '127.0.0.1', ...options });
  cleanups.push(() => server.close());
  const dashboard = mountDashboard(server, telemeter, { interval: 50, title: 'Shop <b>' });
  cleanups.push(() => dashboard.stop());
  return { telemeter, server, dashboard, base: `http://127.0.0.1:${server.port}/dashboard` };
}

describe('live dashboard over HTTP', () => {
  it('serves the page and its files with a strict CSP, nosniff and no-referrer', async () => {
    const { base } = await start();
    const page = await send(base);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toBe(DASHBOARD_CSP);
    expect(DASHBOARD_CSP).toBe(
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'",
    );
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    expect(page.text).toContain('<script type="module" src="/dashboard/assets/app.js"></script>');
    expect(page.text).toContain('Shop &#60;b&#62;');
    // No inline script or style anywhere in the page.
    expect(page.text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(page.text).not.toMatch(/<style|\sstyle=/);

    const uplotFile = createRequire(import.meta.url).resolve('uplot/dist/uPlot.esm.js');
    for (const [name, type] of [
      ['app.js', 'text/javascript; charset=utf-8'],
      ['chart.js', 'text/javascript; charset=utf-8'],
      ['heatmap.js', 'text/javascript; charset=utf-8'],
      ['format.js', 'text/javascript; charset=utf-8'],
      ['uPlot.esm.js', 'text/javascript; charset=utf-8'],
      ['dashboard.css', 'text/css; charset=utf-8'],
      ['uPlot.min.css', 'text/css; charset=utf-8'],
    ]) {
      const reply = await send(`${base}/assets/${name}`);
      expect(reply.status, name).toBe(200);
      expect(reply.headers['content-type'], name).toBe(type);
      expect(reply.headers['content-security-policy'], name).toBe(DASHBOARD_CSP);
      expect(reply.headers['x-content-type-options'], name).toBe('nosniff');
      const etag = reply.headers.etag!;
      expect((await send(`${base}/assets/${name}`, { headers: { 'if-none-match': etag } })).status).toBe(304);
    }
    expect((await send(`${base}/assets/uPlot.esm.js`)).raw.equals(readFileSync(uplotFile))).toBe(true);
    for (const path of ['/assets/../history.ts', '/assets/', '/assets/app.ts', '/nothing', '/api/events']) {
      const reply = await send(`${base}${path}`);
      expect(reply.status, path).toBe(404);
      expect(reply.headers['content-security-policy']).toBe(DASHBOARD_CSP);
    }
    const post = await send(`${base}/api/data`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
  });

  it('answers the layout and the aggregated data as JSON, gzipped when asked, filtered by tag', async () => {
    const { base, dashboard } = await start();
    for (let i = 0; i < 40; i++) {
      execute('dash.http.request', { duration: i % 3 === 0 ? 50 : 5 }, { route: i % 2 === 0 ? '/a' : '/b' });
    }
    execute('dash.queue', { depth: 7 }, { queue: 'mail' });
    // Sampled by hand from here on, so the number of points is known.
    dashboard.stop();
    const t0 = Date.now() + 60_000;
    for (let i = 0; i < 60; i++) dashboard.history.sample(t0 + i * 1000);

    const meta = JSON.parse((await send(`${base}/api/meta`)).text);
    expect(meta.points).toBe(900);
    expect(meta.interval).toBe(50);
    expect(meta.maxSeriesPerMetric).toBe(50);
    expect(meta.metrics.map((m: { exportedName: string; view: string }) => [m.exportedName, m.view])).toEqual(
      [
        ['dash_http_request_count_total', 'rate'],
        ['dash_http_request_duration', 'histogram'],
        ['dash_queue_depth', 'value'],
        ['telemeter_scrapes_total', 'rate'],
        ['telemeter_scrape_duration_seconds', 'histogram'],
      ],
    );
    expect(meta.metrics[1].bounds).toEqual([1, 10, 100]);

    const plain = await send(`${base}/api/data`);
    expect(plain.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(plain.headers['cache-control']).toBe('no-store');
    expect(plain.headers['content-security-policy']).toBe(DASHBOARD_CSP);
    const data = JSON.parse(plain.text);
    expect(data.full).toBe(true);
    expect(data.times.length).toBeGreaterThanOrEqual(61);
    expect(data.times.at(-1)).toBe(t0 + 59_000);
    expect(data.tags).toEqual({ queue: ['mail'], route: ['/a', '/b'] });
    const queue = data.metrics[2].series[0];
    expect(queue.tags).toEqual(['mail']);
    expect(queue.values.at(-1)).toBe(7);

    const zipped = await send(`${base}/api/data`, { headers: { 'accept-encoding': 'gzip' } });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.raw.length).toBeLessThan(plain.raw.length);
    const unzipped = JSON.parse(gunzipSync(zipped.raw).toString('utf8'));
    expect({ ...unzipped, status: undefined }).toEqual({ ...data, status: undefined });

    const newest = t0 + 49_000;
    const later = JSON.parse((await send(`${base}/api/data?since=${newest}&tag.route=%2Fa`)).text);
    expect(later.full).toBe(false);
    expect(later.times).toHaveLength(10);
    expect(later.times[0]).toBe(t0 + 50_000);
    expect(later.metrics[0].series.map((s: { tags: string[] }) => s.tags)).toEqual([['/a']]);
    expect(later.metrics[1].matched).toBe(1);
  });

  it('sits behind the server’s auth; a bearer token signs the browser in with a cookie', async () => {
    const { base, server } = await start({ auth: { bearer: 'dashboard-token' } });
    for (const path of ['', '/assets/app.js', '/api/meta', '/api/data']) {
      expect((await send(`${base}${path}`)).status, path).toBe(401);
    }
    const signIn = await send(`${base}?token=dashboard-token`);
    expect(signIn.status).toBe(200);
    const cookie = signIn.headers['set-cookie']![0].split(';')[0];
    expect((await send(`${base}/api/data`, { headers: { cookie } })).status).toBe(200);
    expect((await send(server.url, { headers: { cookie } })).status).toBe(401);
    const index = await send(`http://127.0.0.1:${server.port}/`, {
      headers: { authorization: 'Bearer dashboard-token' },
    });
    expect(index.text).toContain('<a href="/dashboard">Live dashboard</a>');
  });

  it('rejects invalid options by name, and a second dashboard on the same path', async () => {
    const { server, telemeter } = await start();
    expect(() => liveDashboard(telemeter, { path: 'dashboard' })).toThrow(/option path/);
    expect(() => liveDashboard(telemeter, { path: '/dash/' })).toThrow(/option path/);
    expect(() => liveDashboard(telemeter, { points: 0 })).toThrow(/option points/);
    expect(() => mountDashboard(server, telemeter)).toThrow(/already served/);
    const other = liveDashboard(telemeter, { path: '/ops/live' });
    cleanups.push(() => other.stop());
    server.mount(other.path, other.handler);
    const page = await send(`http://127.0.0.1:${server.port}/ops/live`);
    expect(page.text).toContain('src="/ops/live/assets/app.js"');
  });
});
