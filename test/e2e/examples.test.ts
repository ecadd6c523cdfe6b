/**
 * The examples a reader copies must keep working: the package is built once (as `npm run build` and
 * `prepare` do), then each example runs as a child process importing 'telemeter', 'telemeter/http', ...
 * by package name (Node resolves a package's own name through its "exports", i.e. dist/). Each gets one
 * request, is scraped, and must count exactly that request; SIGINT must stop it cleanly.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { find, sampleValue, sumOf } from '../http/helpers.js';
import { freePort, runTool } from '../support/tools.js';
import { type ChildHandle, startChild } from './child-process.js';
import { REPO_ROOT } from './demo-process.js';

interface Example {
  readonly file: string;
  /** The one request sent, and the labels it must be counted under. */
  readonly path: string;
  readonly route: string;
}

const EXAMPLES: readonly Example[] = [
  { file: 'shop.js', path: '/products/3', route: '/products/:id' },
  { file: 'express.js', path: '/users/42', route: '/users/:id' },
  { file: 'fastify.js', path: '/users/42', route: '/users/:id' },
  { file: 'hono.js', path: '/users/42', route: '/users/:id' },
  { file: 'koa.js', path: '/users/42', route: '/users/:id' },
  { file: 'node-http.js', path: '/users/42', route: '/users/:id' },
];

const running: ChildHandle[] = [];

async function startExample(file: string): Promise<{ child: ChildHandle; app: string; metrics: string }> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(await freePort()),
    METRICS_PORT: String(await freePort()),
    HOST: '127.0.0.1',
  };
  delete env.METRICS_TOKEN;
  const child = startChild(process.execPath, [join('examples', file)], { name: file, cwd: REPO_ROOT, env });
  running.push(child);
  const [, app] = await child.waitForStdout(/^app: (http:\/\/127\.0\.0\.1:\d+)/m);
  const [, metrics] = await child.waitForStdout(/^metrics: (http:\/\/127\.0\.0\.1:\d+\/metrics)$/m);
  return { child, app, metrics };
}

async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: await res.text() };
}

describe('examples/', () => {
  beforeAll(async () => {
    // `npm run build` without its type check (that is `npm run typecheck`'s job): the same dist/ files, sooner.
    const tsc = join(REPO_ROOT, 'node_modules/typescript/bin/tsc');
    const build = await runTool(
      process.execPath,
      [tsc, '-p', join(REPO_ROOT, 'tsconfig.build.json'), '--noCheck'],
      {
        timeoutMs: 120_000,
      },
    );
    if (build.code !== 0) throw new Error(`the build failed:\n${build.stdout}${build.stderr}`);
  }, 150_000);

  afterAll(async () => {
    await Promise.all(running.map((child) => child.stop('SIGKILL')));
  });

  it.each(EXAMPLES)('$file counts one request and stops on SIGINT', async ({ file, path, route }) => {
    const { child, app, metrics } = await startExample(file);
    const answer = await get(`${app}${path}`);
    expect(answer.status).toBe(200);

    const scrape = await get(metrics);
    expect(scrape.status).toBe(200);
    expect(
      sampleValue(scrape.body, 'http_server_requests_total', { method: 'GET', route, status: '200' }),
    ).toBe(1);
    // Exactly that request: neither the scrape nor anything else was counted.
    expect(sumOf(scrape.body, 'http_server_requests_total')).toBe(1);
    expect(find(scrape.body, 'nodejs_heap_size_used_bytes')).toHaveLength(1);

    expect(await child.stop('SIGINT')).toEqual({ code: 0, signal: null });
    expect(child.stdout()).toMatch(/stopped\n$/);
  });

  it('shop.js reports the article metrics: orders, repo timings, vm_memory_total', async () => {
    const { child, app, metrics } = await startExample('shop.js');
    const checkout = await fetch(`${app}/checkout`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ items: [{ id: 1, quantity: 2 }] }),
      signal: AbortSignal.timeout(10_000),
    });
    expect(checkout.status).toBe(201);
    expect(await checkout.json()).toEqual({ amount: 49, currency: 'EUR' });
    const refused = await fetch(`${app}/checkout`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ items: [{ id: 1, quantity: 'two' }] }),
      signal: AbortSignal.timeout(10_000),
    });
    expect(refused.status).toBe(422);
    await refused.arrayBuffer();
    expect((await get(`${app}/fail`)).status).toBe(500);

    const { body } = await get(metrics);
    // The 0.0.4 text a plain GET receives names the sum's samples `_total`, as OpenMetrics (Prometheus) does.
    expect(sampleValue(body, 'shop_order_amount_total', { currency: 'EUR', service: 'shop' })).toBe(49);
    expect(find(body, 'shop_order_amount')).toHaveLength(0);
    expect(sampleValue(body, 'shop_repo_query_total_time_count')).toBe(1);
    expect(sampleValue(body, 'http_server_requests_total', { route: '/checkout', status: '422' })).toBe(1);
    expect(sampleValue(body, 'http_server_request_exception_duration_count', { route: '/fail' })).toBe(1);
    expect(sampleValue(body, 'vm_memory_total')).toBeGreaterThan(0);
    expect(sampleValue(body, 'telemeter_dropped_events_total')).toBe(0);
    await child.stop('SIGINT');
  });

  it('telemetry.js feeds `telemeter grafana --module` and `telemeter rules --module`', async () => {
    const bin = join(REPO_ROOT, 'bin/telemeter.js');
    const module = join(REPO_ROOT, 'examples/telemetry.js');
    const dashboard = await runTool(process.execPath, [
      bin,
      'grafana',
      '--module',
      module,
      '--title',
      'Shop',
    ]);
    expect(dashboard.code, dashboard.stderr).toBe(0);
    const model = JSON.parse(dashboard.stdout);
    expect(model.title).toBe('Shop');
    const exprs = JSON.stringify(model.panels);
    for (const series of ['http_server_requests_total', 'shop_order_amount_total', 'vm_memory_total']) {
      expect(exprs).toContain(series);
    }
    const rules = await runTool(process.execPath, [bin, 'rules', '--module', module]);
    expect(rules.code, rules.stderr).toBe(0);
    expect(rules.stdout).toContain('alert: "HttpServerErrorRatioHigh"');
  });
});
