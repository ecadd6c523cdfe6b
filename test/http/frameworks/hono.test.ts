/**
 * The Hono adapter on @hono/node-server: every route label must be the template of the route Hono's router
 * matched, whether the handler answered (a 404 of its own included), threw, streamed, or the client left
 * before or during the answer; only a request that fell through to the not-found handler is `<unmatched>`.
 */
import type { Server, ServerResponse } from 'node:http';
import { serve } from '@hono/node-server';
import { type Context, Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { matchedRoutes } from 'hono/route';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { honoMiddleware, httpMetrics, instrumentNodeHttp, UNMATCHED_ROUTE } from '../../../src/http/index.js';
import { Telemeter } from '../../../src/index.js';
import { expectRoutesMatchRouter, type RouteCase, ServedRoutes } from '../conformance.js';
import { close, find, recordEvents, sendAll, waitFor } from '../helpers.js';

const REQUESTS = 'http_server_requests_total';

/** Resolves when the client has gone away (the response closed unfinished), or after 5 s at most. */
function clientGone(c: Context): Promise<void> {
  const res = (c.env as { outgoing: ServerResponse }).outgoing;
  if (res.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 5_000);
    res.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** A body that sends one chunk and then never ends: only the client can close it. */
function neverEnding(): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('a'));
    },
  });
}

function buildApp(served: ServedRoutes): Hono {
  const mark = (c: Context, route: string) => served.mark(c.req.raw.headers, route);
  const app = new Hono();
  app.use(honoMiddleware());
  app.get('/users/:id', (c) => {
    mark(c, '/users/:id');
    return c.text('user');
  });
  app.post('/users', (c) => {
    mark(c, '/users');
    return c.text('created', 201);
  });
  app.get('/sync-error', (c) => {
    mark(c, '/sync-error');
    throw new Error('sync');
  });
  app.get('/async-error', async (c) => {
    mark(c, '/async-error');
    await Promise.resolve();
    throw new Error('async');
  });
  app.get('/teapot', (c) => {
    mark(c, '/teapot');
    throw new HTTPException(418, { message: 'teapot' });
  });
  // A handler that takes `next` (as middleware does) and answers 404 itself: the route did match.
  app.get('/documents/:id', async (c, _next) => {
    mark(c, '/documents/:id');
    return c.text('no such document', 404);
  });
  app.get('/late/:id', async (c) => {
    mark(c, '/late/:id');
    await clientGone(c);
    return c.text('too late');
  });
  app.get('/stream/:id', (c) => {
    mark(c, '/stream/:id');
    return c.body(neverEnding());
  });
  app.get('/streamed', (c) => {
    mark(c, '/streamed');
    return c.body(
      new ReadableStream({
        start(controller) {
          for (const chunk of ['a', 'b', 'c']) controller.enqueue(new TextEncoder().encode(chunk));
          controller.close();
        },
      }),
    );
  });
  // Middleware that answers some paths itself, as a static file server does: no route matched those.
  app.use('/static/*', async (c, next) => {
    if (c.req.path === '/static/app.js') return c.text('js');
    await next();
  });

  // use() middleware in front of routes: it answers some requests itself and makes others wait. Hono matched
  // the route before the middleware ran, so the route is the label.
  app.use('/guarded/*', async (c, next) => {
    if (c.req.path.endsWith('/locked')) {
      mark(c, '/guarded/:id/locked');
      return c.text('locked', 401);
    }
    if (c.req.path.endsWith('/wait')) {
      mark(c, '/guarded/:id/wait');
      await clientGone(c);
    }
    await next();
  });
  app.get('/guarded/:id/locked', (c) => c.text('unreachable'));
  app.get('/guarded/:id/wait', (c) => c.text('too late'));
  app.all('/any/:id', (c) => {
    mark(c, '/any/:id');
    return c.text('any');
  });
  // A route-level handler that passes on: the route matched, the not-found handler answered.
  app.get('/maybe/:id', async (c, next) => {
    mark(c, '/maybe/:id');
    if (c.req.param('id') === 'yes') return c.text('yes');
    await next();
  });

  const v2 = new Hono().basePath('/v2');
  v2.get('/orders/:order', (c) => {
    mark(c, '/v2/orders/:order');
    return c.text('order');
  });
  app.route('/', v2);

  const tenant = new Hono();
  tenant.get('/settings', (c) => {
    mark(c, '/tenants/:tenant/settings');
    return c.text('settings');
  });
  tenant.get('/projects/:project', async (c) => {
    mark(c, '/tenants/:tenant/projects/:project');
    await clientGone(c);
    return c.text('too late');
  });
  tenant.get('/fail', (c) => {
    mark(c, '/tenants/:tenant/fail');
    throw new Error('nested');
  });
  app.route('/tenants/:tenant', tenant);

  // A sub-application with its own error handler: Hono wraps each of its handlers in a `(c, next)` function.
  const api = new Hono();
  api.get('/items/:id', (c) => {
    mark(c, '/api/items/:id');
    return c.text('item');
  });
  api.get('/fail', (c) => {
    mark(c, '/api/fail');
    throw new Error('api');
  });
  api.onError((_error, c) => c.text('api error', 503));
  app.route('/api', api);

  app.onError((error, c) => (error instanceof HTTPException ? error.getResponse() : c.text('error', 500)));
  return app;
}

const MATRIX: RouteCase[] = [
  { path: '/users/1', status: 200 },
  { path: '/users/2?x=1', status: 200 },
  { method: 'POST', path: '/users', status: 201 },
  { method: 'HEAD', path: '/users/3', status: 200 },
  { path: '/missing', status: 404 },
  { path: '/users/1/extra', status: 404 },
  { method: 'DELETE', path: '/users/1', status: 404 },
  { path: '/documents/7', status: 404 },
  { path: '/static/app.js', status: 200 },
  { path: '/static/missing.js', status: 404 },
  { path: '/sync-error', status: 500 },
  { path: '/async-error', status: 500 },
  { path: '/teapot', status: 418 },
  { path: '/streamed', status: 200 },
  { path: '/api/items/9', status: 200 },
  { path: '/api/fail', status: 503 },
  { path: '/tenants/acme/settings', status: 200 },
  { path: '/guarded/1/locked', status: 401 },
  { method: 'DELETE', path: '/any/1', status: 200 },
  { path: '/maybe/yes', status: 200 },
  { path: '/maybe/no', status: 404 },
  { path: '/v2/orders/5', status: 200 },
  { path: '/late/1', mode: 'abort-before', status: 499 },
  { path: '/tenants/acme/projects/7', mode: 'abort-before', status: 499 },
  { path: '/guarded/1/wait', mode: 'abort-before', status: 499 },
  { path: '/stream/1', mode: 'abort-after', status: 499 },
];

describe('Hono on @hono/node-server', () => {
  let telemeter: Telemeter;
  let server: Server;
  let port: number;
  const served = new ServedRoutes();

  beforeEach(async () => {
    served.clear();
    telemeter = new Telemeter({ metrics: httpMetrics() });
    const app = buildApp(served);
    ({ server, port } = await new Promise<{ server: Server; port: number }>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) =>
        resolve({ server: s as Server, port: info.port }),
      );
    }));
  });
  afterEach(async () => {
    telemeter.close();
    await close(server);
  });

  it('labels every request with the template the router matched', async () => {
    await expectRoutesMatchRouter(telemeter, port, served, MATRIX);
  });

  it('keeps the route of a request the client aborts before the handler answers', async () => {
    await expectRoutesMatchRouter(telemeter, port, served, [
      { path: '/late/1', mode: 'abort-before', status: 499 },
      { path: '/tenants/acme/projects/7', mode: 'abort-before', status: 499 },
      { path: '/guarded/1/wait', mode: 'abort-before', status: 499 },
    ]);
    expect(find(telemeter.scrape(), REQUESTS).map((s) => s.labels.route)).toEqual([
      '/guarded/:id/wait',
      '/late/:id',
      '/tenants/:tenant/projects/:project',
    ]);
  });

  it('labels a 404 that a (c, next) handler answered with its route', async () => {
    await expectRoutesMatchRouter(telemeter, port, served, [
      { path: '/documents/7', status: 404 },
      { path: '/missing', status: 404 },
    ]);
    expect(find(telemeter.scrape(), REQUESTS).map((s) => s.labels.route)).toEqual([
      '/documents/:id',
      UNMATCHED_ROUTE,
    ]);
  });

  it('emits the exception event with the route for thrown errors, and none for an HTTPException under 500', async () => {
    const recorder = recordEvents(['http.server.request.exception', 'http.server.request.stop']);
    try {
      await expectRoutesMatchRouter(telemeter, port, served, [
        { path: '/sync-error', status: 500 },
        { path: '/async-error', status: 500 },
        { path: '/teapot', status: 418 },
        { path: '/tenants/acme/fail', status: 500 },
        { path: '/api/fail', status: 503 },
        { path: '/users/1', status: 200 },
      ]);
      const exceptions = () => recorder.events.filter((e) => e.name === 'http.server.request.exception');
      await waitFor(() => exceptions().length === 4, 'four exception events');
      expect(
        exceptions().map(({ metadata }) => [metadata.route, (metadata.reason as Error).message]),
      ).toEqual([
        ['/sync-error', 'sync'],
        ['/async-error', 'async'],
        ['/tenants/:tenant/fail', 'nested'],
        ['/api/fail', 'api'],
      ]);
      // HTTPException(418) is Hono's answer, not a failure of the server.
      const outcomes = recorder.events
        .filter((e) => e.name === 'http.server.request.stop')
        .map(({ metadata }) => [metadata.route, metadata.status, metadata.outcome]);
      expect(outcomes).toContainEqual(['/teapot', '418', 'completed']);
      expect(outcomes).toContainEqual(['/api/fail', '503', 'error']);
    } finally {
      recorder.stop();
    }
  });

  it('counts each request once when instrumentNodeHttp() sees it too', async () => {
    const uninstall = instrumentNodeHttp();
    try {
      await expectRoutesMatchRouter(telemeter, port, served, MATRIX);
    } finally {
      uninstall();
    }
  });

  it('adds no series for 10,000 distinct tenant ids under a parameter prefix', async () => {
    const paths = Array.from({ length: 10_000 }, (_, i) => `/tenants/t${i}/settings`);
    expect(await sendAll(port, paths)).toEqual(new Map([[200, 10_000]]));
    await sendAll(port, ['/no/such/path/1', '/no/such/path/2']);
    await waitFor(() => find(telemeter.scrape(), REQUESTS).length === 2, 'two series');
    const series = find(telemeter.scrape(), REQUESTS).map((s) => [s.labels.route, s.labels.status, s.value]);
    expect(series).toEqual([
      ['/tenants/:tenant/settings', '200', 10_000],
      [UNMATCHED_ROUTE, '404', 2],
    ]);
  });
});

describe("Hono with hono/route's matchedRoutes helper", () => {
  it('labels by the routes the helper reports', async () => {
    const telemeter = new Telemeter({ metrics: httpMetrics() });
    const served = new ServedRoutes();
    const app = new Hono();
    app.use(honoMiddleware({ matchedRoutes }));
    app.get('/documents/:id', async (c, _next) => {
      served.mark(c.req.raw.headers, '/documents/:id');
      return c.text('no such document', 404);
    });
    app.get('/late/:id', async (c) => {
      served.mark(c.req.raw.headers, '/late/:id');
      await clientGone(c);
      return c.text('too late');
    });
    const { server, port } = await new Promise<{ server: Server; port: number }>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) =>
        resolve({ server: s as Server, port: info.port }),
      );
    });
    try {
      await expectRoutesMatchRouter(telemeter, port, served, [
        { path: '/documents/1', status: 404 },
        { path: '/missing', status: 404 },
        { path: '/late/1', mode: 'abort-before', status: 499 },
      ]);
    } finally {
      telemeter.close();
      await close(server);
    }
  });
});

describe('Hono without node:http objects (app.request)', () => {
  it('labels requests by the router and ends a chain that threw a non-Error', async () => {
    const telemeter = new Telemeter({ metrics: httpMetrics() });
    try {
      const app = new Hono();
      app.use(honoMiddleware());
      app.get('/documents/:id', async (c, _next) => c.text('no such document', 404));
      app.get('/odd', () => {
        throw 'not an Error';
      });
      expect((await app.request('/documents/1')).status).toBe(404);
      expect((await app.request('/missing')).status).toBe(404);
      await expect(app.request('/odd')).rejects.toBe('not an Error');
      const body = telemeter.scrape();
      expect(find(body, REQUESTS).map((s) => [s.labels.route, s.labels.status, s.value])).toEqual([
        ['/documents/:id', '404', 1],
        ['/odd', '500', 1],
        [UNMATCHED_ROUTE, '404', 1],
      ]);
      // Every method this process has served is back to zero in flight.
      const active = find(body, 'http_server_active_requests');
      expect(active.map((s) => s.labels.method)).toContain('GET');
      expect(active.every((s) => s.value === 0)).toBe(true);
    } finally {
      telemeter.close();
    }
  });
});
