import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { httpMetrics, UNMATCHED_ROUTE } from '../../src/http/index.js';
import { Telemeter } from '../../src/index.js';
import { checkMetrics } from '../support/promtool.js';
import { requirePromtool } from '../support/tools.js';
import { APP_ROUTES, APPS, type RunningApp } from './apps.js';
import { abortMidResponse, find, recordEvents, sampleValue, send, sendAll, waitFor } from './helpers.js';

const hasPromtool = requirePromtool();
const REQUESTS = 'http_server_requests_total';

describe.each(APPS)('%s', (_name, start) => {
  let app: RunningApp;
  let telemeter: Telemeter;

  beforeEach(async () => {
    telemeter = new Telemeter({ metrics: httpMetrics() });
    app = await start();
  });
  afterEach(async () => {
    telemeter.close();
    await app.close();
  });

  const requests = (labels: Record<string, string>) => sampleValue(telemeter.scrape(), REQUESTS, labels);
  const total = () => find(telemeter.scrape(), REQUESTS).reduce((sum, s) => sum + s.value, 0);

  it('counts requests by route template, method and status', async () => {
    expect(
      await sendAll(app.port, ['/users/1', '/users/2', '/users/3', '/api/items/9', '/api/items/10']),
    ).toEqual(new Map([[200, 5]]));
    expect((await send(app.port, '/users', { method: 'POST' })).status).toBe(201);
    expect((await send(app.port, '/healthz')).status).toBe(200);
    await waitFor(() => total() === 6, '6 requests recorded');

    const body = telemeter.scrape();
    expect(find(body, REQUESTS).map((s) => s.labels)).toEqual([
      { method: 'GET', route: '/api/items/:id', status: '200' },
      { method: 'GET', route: '/users/:id', status: '200' },
      { method: 'POST', route: '/users', status: '201' },
    ]);
    expect(sampleValue(body, REQUESTS, { route: '/users/:id' })).toBe(3);
    expect(sampleValue(body, REQUESTS, { route: '/api/items/:id' })).toBe(2);
    expect(sampleValue(body, REQUESTS, { method: 'POST', route: '/users', status: '201' })).toBe(1);
    // The ignored health check left no trace at all.
    expect(body).not.toContain('healthz');
    expect(
      sampleValue(body, 'http_server_request_duration_seconds_count', { route: '/users/:id', status: '200' }),
    ).toBe(3);
    expect(
      sampleValue(body, 'http_server_request_duration_seconds_bucket', { route: '/users/:id', le: '+Inf' }),
    ).toBe(3);
    // Every framework declares a Content-Length for these small bodies: "user" and "item" are 4 bytes.
    expect(sampleValue(body, 'http_server_response_size_bytes_sum', { route: '/users/:id' })).toBe(12);
    expect(sampleValue(body, 'http_server_response_size_bytes_count', { route: '/api/items/:id' })).toBe(2);
    expect(sampleValue(body, 'http_server_active_requests', { method: 'GET' })).toBe(0);
  });

  it('counts a throwing route as 500 and emits the exception event', async () => {
    const recorder = recordEvents(['http.server.request.exception', 'http.server.request.stop']);
    try {
      expect((await send(app.port, '/boom')).status).toBe(500);
      await waitFor(() => requests({ route: '/boom' }) === 1, 'the failed request');
      expect(requests({ method: 'GET', route: '/boom', status: '500' })).toBe(1);

      const exceptions = recorder.events.filter((e) => e.name === 'http.server.request.exception');
      expect(exceptions).toHaveLength(1);
      expect(exceptions[0].metadata).toMatchObject({ method: 'GET', route: '/boom', kind: 'error' });
      expect((exceptions[0].metadata.reason as Error).message).toBe('boom');
      expect(exceptions[0].measurements.duration).toBeGreaterThan(0);
      const stops = recorder.events.filter((e) => e.name === 'http.server.request.stop');
      expect(stops.map((e) => [e.metadata.status, e.metadata.outcome])).toEqual([['500', 'error']]);
    } finally {
      recorder.stop();
    }
  });

  it(`labels requests that no route matched ${UNMATCHED_ROUTE}`, async () => {
    expect(await sendAll(app.port, ['/nope', '/users/1/extra', '/nope/a?b=c'])).toEqual(new Map([[404, 3]]));
    await waitFor(() => total() === 3, '3 requests recorded');
    expect(find(telemeter.scrape(), REQUESTS).map((s) => [s.labels, s.value])).toEqual([
      [{ method: 'GET', route: UNMATCHED_ROUTE, status: '404' }, 3],
    ]);
  });

  it('counts a request the client abandons mid-response as aborted (status 499)', async () => {
    const recorder = recordEvents(['http.server.request.stop']);
    try {
      const received = await abortMidResponse(app.port, '/slow');
      expect(received).toMatch(/^HTTP\/1\.1 200/);
      await waitFor(() => requests({ route: '/slow' }) === 1, 'the aborted request');
      expect(requests({ method: 'GET', route: '/slow', status: '499' })).toBe(1);
      expect(recorder.events.map((e) => e.metadata.outcome)).toEqual(['aborted']);
      // Its response size is unknown (streamed and cut), so it is left out rather than guessed.
      expect(recorder.events[0].measurements.response_size).toBeUndefined();
      expect(sampleValue(telemeter.scrape(), 'http_server_active_requests', { method: 'GET' })).toBe(0);
    } finally {
      recorder.stop();
    }
  });

  it('keeps 10,000 distinct URLs within the route count, plus one series', async () => {
    const paths: string[] = [];
    for (let i = 1; i <= 5_000; i++) paths.push(`/users/${i}`, `/nope/${i}`);
    expect(await sendAll(app.port, paths, 16)).toEqual(
      new Map([
        [200, 5_000],
        [404, 5_000],
      ]),
    );
    await waitFor(() => total() === 10_000, '10,000 requests recorded');

    const body = telemeter.scrape();
    const series = find(body, REQUESTS);
    expect(series.map((s) => [s.labels, s.value])).toEqual([
      [{ method: 'GET', route: '/users/:id', status: '200' }, 5_000],
      [{ method: 'GET', route: UNMATCHED_ROUTE, status: '404' }, 5_000],
    ]);
    const routes = new Set(
      find(body, 'http_server_request_duration_seconds_count').map((s) => s.labels.route),
    );
    expect(routes.size).toBeLessThanOrEqual(APP_ROUTES.length + 1);
    expect(sampleValue(body, 'telemeter_series', { metric: 'http_server_requests_total' })).toBe(2);
    expect(sampleValue(body, 'telemeter_series', { metric: 'http_server_request_duration_seconds' })).toBe(2);
    // 10,000 requests share one event loop with their client on a loaded CI machine: allow minutes, not seconds.
  }, 180_000);

  it.skipIf(!hasPromtool)('passes promtool check metrics after traffic', async () => {
    await sendAll(app.port, ['/users/1', '/nope', '/api/items/2']);
    await send(app.port, '/boom');
    await waitFor(() => total() === 4, '4 requests recorded');
    const result = await checkMetrics(telemeter.scrape());
    expect({ code: result.code, lint: result.lint, error: result.error }).toEqual({
      code: 0,
      lint: [],
      error: undefined,
    });
  });
});
