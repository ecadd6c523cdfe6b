/**
 * The Koa adapter against Koa 2 and Koa 3 with @koa/router: every route label must be the template the router
 * matched, whether the handler answered, threw, streamed, or the client left before or during the answer.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import Router from '@koa/router';
import Koa3 from 'koa';
import Koa2 from 'koa2';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { httpMetrics, instrumentNodeHttp, koaMiddleware, UNMATCHED_ROUTE } from '../../../src/http/index.js';
import { Telemeter } from '../../../src/index.js';
import { expectRoutesMatchRouter, type RouteCase, ServedRoutes } from '../conformance.js';
import { close, find, listen, recordEvents, sendAll, waitFor } from '../helpers.js';

const REQUESTS = 'http_server_requests_total';

/** Resolves when the client has gone away (the response closed unfinished), or after 5 s at most. */
function clientGone(res: ServerResponse): Promise<void> {
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
function neverEnding(): Readable {
  const stream = new Readable({ read() {} });
  stream.push('a');
  return stream;
}

type KoaClass = typeof Koa3;

function buildApp(Koa: KoaClass, served: ServedRoutes): Koa3 {
  const app = new Koa();
  app.silent = true;
  app.use(koaMiddleware());
  const router = new Router();
  const mark = (req: IncomingMessage, route: string) => served.mark(req.headers, route);
  router.get('/users/:id', (ctx) => {
    mark(ctx.req, '/users/:id');
    ctx.body = 'user';
  });
  router.post('/users', (ctx) => {
    mark(ctx.req, '/users');
    ctx.status = 201;
    ctx.body = 'created';
  });
  router.get('/sync-error', (ctx) => {
    mark(ctx.req, '/sync-error');
    throw new Error('sync');
  });
  router.get('/async-error', async (ctx) => {
    mark(ctx.req, '/async-error');
    await Promise.resolve();
    throw new Error('async');
  });
  router.get('/teapot', (ctx) => {
    mark(ctx.req, '/teapot');
    ctx.throw(418, 'teapot');
  });
  router.get('/late/:id', async (ctx) => {
    mark(ctx.req, '/late/:id');
    await clientGone(ctx.res);
    ctx.body = 'too late';
  });
  router.get('/stream/:id', (ctx) => {
    mark(ctx.req, '/stream/:id');
    ctx.body = neverEnding();
  });
  router.get('/streamed', (ctx) => {
    mark(ctx.req, '/streamed');
    ctx.body = Readable.from(['a', 'b', 'c']);
  });

  const tenant = new Router();
  tenant.get('/settings', (ctx) => {
    mark(ctx.req, '/tenants/:tenant/settings');
    ctx.body = 'settings';
  });
  tenant.get('/projects/:project', async (ctx) => {
    mark(ctx.req, '/tenants/:tenant/projects/:project');
    await clientGone(ctx.res);
    ctx.body = 'too late';
  });
  tenant.get('/fail', (ctx) => {
    mark(ctx.req, '/tenants/:tenant/fail');
    throw new Error('nested');
  });
  router.use('/tenants/:tenant', tenant.routes());

  const api = new Router({ prefix: '/api' });
  api.get('/items/:id', (ctx) => {
    mark(ctx.req, '/api/items/:id');
    ctx.body = 'item';
  });

  // Router-level middleware runs after the router matched, while @koa/router labels the context with the
  // middleware's own path: it answers some requests itself, and makes others wait.
  const guarded = new Router({ prefix: '/guarded' });
  guarded.use(async (ctx, next) => {
    if (ctx.path.endsWith('/locked')) {
      mark(ctx.req, '/guarded/:id/locked');
      ctx.status = 401;
      return;
    }
    if (ctx.path.endsWith('/wait')) {
      mark(ctx.req, '/guarded/:id/wait');
      await clientGone(ctx.res);
    }
    await next();
  });
  guarded.get('/:id/locked', (ctx) => {
    ctx.body = 'unreachable';
  });
  guarded.get('/:id/wait', (ctx) => {
    ctx.body = 'too late';
  });
  guarded.get('/:id', (ctx) => {
    mark(ctx.req, '/guarded/:id');
    ctx.body = 'guarded';
  });

  app.use(router.routes());
  app.use(api.routes());
  app.use(guarded.routes());
  app.use(guarded.allowedMethods());
  return app;
}

const MATRIX: RouteCase[] = [
  { path: '/users/1', status: 200 },
  { path: '/users/2?x=1', status: 200 },
  { method: 'POST', path: '/users', status: 201 },
  { method: 'HEAD', path: '/users/3', status: 200 },
  { path: '/missing', status: 404 },
  { path: '/users/1/extra', status: 404 },
  { path: '/sync-error', status: 500 },
  { path: '/async-error', status: 500 },
  { path: '/teapot', status: 418 },
  { path: '/streamed', status: 200 },
  { path: '/api/items/9', status: 200 },
  { path: '/tenants/acme/settings', status: 200 },
  { path: '/guarded/1', status: 200 },
  { path: '/guarded/1/locked', status: 401 },
  { method: 'POST', path: '/guarded/1', status: 405 },
  { path: '/late/1', mode: 'abort-before', status: 499 },
  { path: '/tenants/acme/projects/7', mode: 'abort-before', status: 499 },
  { path: '/guarded/1/wait', mode: 'abort-before', status: 499 },
  { path: '/stream/1', mode: 'abort-after', status: 499 },
];

describe.each([
  ['Koa 2', Koa2 as KoaClass],
  ['Koa 3', Koa3],
])('%s with @koa/router', (_name, Koa) => {
  let telemeter: Telemeter;
  let server: Server;
  let port: number;
  const served = new ServedRoutes();

  beforeEach(async () => {
    served.clear();
    telemeter = new Telemeter({ metrics: httpMetrics() });
    server = createServer(buildApp(Koa, served).callback());
    port = await listen(server);
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

  it('emits the exception event with the route for thrown errors, and none for a ctx.throw under 500', async () => {
    const recorder = recordEvents(['http.server.request.exception', 'http.server.request.stop']);
    try {
      await expectRoutesMatchRouter(telemeter, port, served, [
        { path: '/sync-error', status: 500 },
        { path: '/async-error', status: 500 },
        { path: '/teapot', status: 418 },
        { path: '/tenants/acme/fail', status: 500 },
        { path: '/users/1', status: 200 },
      ]);
      const exceptions = () => recorder.events.filter((e) => e.name === 'http.server.request.exception');
      await waitFor(() => exceptions().length === 3, 'three exception events');
      expect(
        exceptions().map(({ metadata }) => [metadata.route, (metadata.reason as Error).message]),
      ).toEqual([
        ['/sync-error', 'sync'],
        ['/async-error', 'async'],
        ['/tenants/:tenant/fail', 'nested'],
      ]);
      // ctx.throw(418) is Koa's answer, not a failure of the server.
      const outcomes = recorder.events
        .filter((e) => e.name === 'http.server.request.stop')
        .map(({ metadata }) => [metadata.route, metadata.status, metadata.outcome]);
      expect(outcomes).toContainEqual(['/teapot', '418', 'completed']);
      expect(outcomes).toContainEqual(['/sync-error', '500', 'error']);
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
