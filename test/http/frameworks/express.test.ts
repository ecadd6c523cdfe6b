/**
 * Route labels of Express 4 and 5 against what the handlers declare they serve (see ../conformance.ts): param
 * mounts, nested routers, regular-expression, array and sub-application mounts, letter-case variants, errors,
 * streams and aborts, on both majors.
 */
import { createServer } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import express4 from 'express4';
import { afterEach, describe, expect, it } from 'vitest';
import { expressMetrics, httpMetrics, instrumentNodeHttp } from '../../../src/http/index.js';
import { Telemeter } from '../../../src/index.js';
import { expectRoutesMatchRouter, type RouteCase, ServedRoutes } from '../conformance.js';
import { close, find, listen, parseSamples, recordEvents, sendAll, waitFor } from '../helpers.js';

const REQUESTS = 'http_server_requests_total';
const EXCEPTION = 'http.server.request.exception';
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function telemeter(): Telemeter {
  const t = new Telemeter({ metrics: httpMetrics() });
  cleanups.push(() => t.close());
  return t;
}

/** The regular expression of the regex mount; its label is the expression as JavaScript prints it. */
const VERSION_MOUNT = /^\/v\d+/;

interface Variant {
  readonly major: 4 | 5;
  // Express 4's types are another package; the application below uses only what both majors share.
  readonly express: typeof express;
}

const VARIANTS: readonly Variant[] = [
  { major: 4, express: express4 as unknown as typeof express },
  { major: 5, express },
];

/** One application with every kind of mount, on either major. */
async function start(variant: Variant, served: ServedRoutes): Promise<number> {
  const e = variant.express;
  const app = e();
  app.set('env', 'test');
  const metrics = expressMetrics();
  app.use(metrics);
  const mark =
    (route: string, answer: (req: Request, res: Response, next: NextFunction) => unknown) =>
    (req: Request, res: Response, next: NextFunction) => {
      served.mark(req.headers, route);
      return answer(req, res, next);
    };
  const ok = (_req: Request, res: Response) => {
    res.send('ok');
  };

  app.get('/users/:id', mark('/users/:id', ok));
  app.get(
    '/boom/sync',
    mark('/boom/sync', () => {
      throw new Error('sync');
    }),
  );
  app.get(
    '/boom/next',
    mark('/boom/next', (_req, _res, next) => next(new Error('next'))),
  );
  if (variant.major === 5) {
    app.get(
      '/boom/async',
      mark('/boom/async', async () => {
        throw new Error('async');
      }),
    );
  }

  const tenant = e.Router();
  tenant.get('/settings', mark('/tenants/:tenant/settings', ok));
  tenant.get('/', mark('/tenants/:tenant', ok));
  tenant.get(
    '/fail',
    mark('/tenants/:tenant/fail', () => {
      throw new Error('tenant');
    }),
  );
  tenant.get(
    '/export',
    mark('/tenants/:tenant/export', (_req, res) => {
      res.write('first,');
      setImmediate(() => res.end('last'));
    }),
  );
  tenant.get(
    '/stream',
    mark('/tenants/:tenant/stream', (_req, res) => {
      // Never ends: only a client that leaves closes it.
      res.write('first');
    }),
  );
  tenant.get(
    '/slow',
    mark('/tenants/:tenant/slow', (_req, res) => {
      const timer = setTimeout(() => res.send('late'), 5_000);
      res.on('close', () => clearTimeout(timer));
    }),
  );
  app.use('/tenants/:tenant', tenant);

  const level3 = e.Router();
  level3.get('/detail/:field', mark('/api/:version/items/:itemId/parts/:partId/detail/:field', ok));
  level3.get(
    '/fail',
    mark('/api/:version/items/:itemId/parts/:partId/fail', () => {
      throw new Error('deep');
    }),
  );
  const level2 = e.Router();
  level2.get('/', mark('/api/:version/items/:itemId', ok));
  level2.use('/parts/:partId', level3);
  const level1 = e.Router();
  level1.use('/items/:itemId', level2);
  app.use('/api/:version', level1);

  const versioned = e.Router();
  versioned.get('/ping', mark(`${String(VERSION_MOUNT)}/ping`, ok));
  app.use(VERSION_MOUNT, versioned);

  const shop = e.Router();
  shop.get('/cart/:item', (req, res) => {
    // The alternative that matched is the one in the label.
    served.mark(req.headers, /^\/shop/i.test(req.baseUrl) ? '/shop/cart/:item' : '/store/:region/cart/:item');
    res.send('cart');
  });
  app.use(['/shop', '/store/:region'], shop);

  const admin = e();
  admin.get('/users/:id', mark('/admin/:org/users/:id', ok));
  app.use('/admin/:org', admin);

  app.use(metrics.errorHandler);
  const server = createServer(app);
  const port = await listen(server);
  cleanups.push(() => close(server));
  return port;
}

describe.each(VARIANTS)('Express $major', (variant) => {
  it('labels every route with the template of its mounts, never a concrete segment', async () => {
    const t = telemeter();
    const served = new ServedRoutes();
    const port = await start(variant, served);
    const cases: RouteCase[] = [
      { path: '/users/1', status: 200 },
      { path: '/tenants/acme/settings', status: 200 },
      { path: '/tenants/globex/settings', status: 200 },
      { path: '/tenants/acme', status: 200 },
      { path: '/tenants/acme/', status: 200 },
      { path: '/api/v1/items/7', status: 200 },
      { path: '/api/v2/items/8/parts/9/detail/size', status: 200 },
      { path: '/api/v3/items/a%20b/parts/x/detail/color?q=1', status: 200 },
      { path: '/v1/ping', status: 200 },
      { path: '/v22/ping', status: 200 },
      { path: '/shop/cart/1', status: 200 },
      { path: '/store/eu/cart/2', status: 200 },
      { path: '/store/us/cart/3', status: 200 },
      { path: '/admin/acme/users/1', status: 200 },
      { path: '/admin/globex/users/2', status: 200 },
    ];
    await expectRoutesMatchRouter(t, port, served, cases);
  });

  it('takes the letter case of the pattern, never the request', async () => {
    const t = telemeter();
    const served = new ServedRoutes();
    const port = await start(variant, served);
    const cases: RouteCase[] = [
      { path: '/USERS/1', status: 200 },
      { path: '/Users/2', status: 200 },
      { path: '/TENANTS/Acme/Settings', status: 200 },
      { path: '/Tenants/acme/SETTINGS', status: 200 },
      { path: '/API/V1/Items/7/Parts/9/Detail/Size', status: 200 },
      { path: '/Api/v1/ITEMS/7', status: 200 },
      // The regular expression is the application's own, and case-sensitive; the route in it is not.
      { path: '/v2/PING', status: 200 },
      { path: '/SHOP/Cart/1', status: 200 },
      { path: '/Store/EU/CART/2', status: 200 },
      { path: '/ADMIN/acme/Users/1', status: 200 },
    ];
    await expectRoutesMatchRouter(t, port, served, cases);
  });

  it('labels requests no route handled <unmatched>, inside mounts too', async () => {
    const t = telemeter();
    const served = new ServedRoutes();
    const port = await start(variant, served);
    await expectRoutesMatchRouter(t, port, served, [
      { path: '/nope', status: 404 },
      { path: '/tenants/acme/nope', status: 404 },
      { path: '/api/v1/items/7/parts/8/nope', status: 404 },
      { path: '/admin/acme/nope', status: 404 },
      { path: '/v1/nope', status: 404 },
    ]);
  });

  it('keeps the matched route when a handler fails, and reports the exception with it', async () => {
    const t = telemeter();
    const recorder = recordEvents([EXCEPTION]);
    cleanups.push(() => recorder.stop());
    const served = new ServedRoutes();
    const port = await start(variant, served);
    const failing = [
      '/boom/sync',
      '/boom/next',
      '/tenants/acme/fail',
      '/api/v1/items/2/parts/3/fail',
      // Express 4 does not catch a rejected promise: the request would hang, so only Express 5 is asked.
      ...(variant.major === 5 ? ['/boom/async'] : []),
    ];
    await expectRoutesMatchRouter(
      t,
      port,
      served,
      failing.map((path) => ({ path, status: 500 })),
    );
    await waitFor(() => recorder.events.length === failing.length, 'one exception event per failure');
    expect(recorder.events.map((event) => event.metadata.route).sort()).toEqual(
      [
        '/boom/sync',
        '/boom/next',
        '/tenants/:tenant/fail',
        '/api/:version/items/:itemId/parts/:partId/fail',
        ...(variant.major === 5 ? ['/boom/async'] : []),
      ].sort(),
    );
  });

  it('labels streamed and aborted responses with their route', async () => {
    const t = telemeter();
    const served = new ServedRoutes();
    const port = await start(variant, served);
    await expectRoutesMatchRouter(t, port, served, [
      { path: '/tenants/acme/export', status: 200 },
      { path: '/tenants/acme/stream', mode: 'abort-after', status: 499 },
      { path: '/tenants/globex/slow', mode: 'abort-before', status: 499 },
    ]);
  });

  it('counts each request once when instrumentNodeHttp() sees it too', async () => {
    const t = telemeter();
    cleanups.push(instrumentNodeHttp());
    const served = new ServedRoutes();
    const port = await start(variant, served);
    await expectRoutesMatchRouter(t, port, served, [
      { path: '/tenants/acme/settings', status: 200 },
      { path: '/api/v1/items/2/parts/3/detail/x', status: 200 },
      { path: '/admin/acme/users/1', status: 200 },
      { path: '/tenants/acme/fail', status: 500 },
      { path: '/nope', status: 404 },
    ]);
  });

  it('adds no series for 10,000 distinct tenants under a param mount', async () => {
    const t = telemeter();
    const port = await start(variant, new ServedRoutes());
    const paths = Array.from({ length: 10_000 }, (_, i) => `/tenants/t${i}/settings`);
    const statuses = await sendAll(port, paths, 16);
    expect(Object.fromEntries(statuses)).toEqual({ 200: 10_000 });
    await waitFor(
      () => find(t.scrape(), REQUESTS).reduce((sum, s) => sum + s.value, 0) === 10_000,
      'every request counted',
    );
    const samples = parseSamples(t.scrape());
    const routes = (name: string) =>
      new Set(samples.filter((s) => s.name === name).map((s) => s.labels.route));
    expect([...routes(REQUESTS)]).toEqual(['/tenants/:tenant/settings']);
    expect(samples.filter((s) => s.name === REQUESTS)).toHaveLength(1);
    expect([...routes('http_server_request_duration_seconds_count')]).toEqual(['/tenants/:tenant/settings']);
    expect(samples.filter((s) => s.name === 'http_server_request_duration_seconds_count')).toHaveLength(1);
  });
});
