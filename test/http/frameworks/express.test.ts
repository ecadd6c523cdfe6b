/**
 * Route labels of Express 4 and 5 against what the handlers declare they serve (see ../conformance.ts): param
 * mounts, nested routers, regular-expression, array and sub-application mounts, letter-case variants, errors,
 * streams and aborts, on both majors.
 */
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import express, { type NextFunction, type Request, type Response } from 'express';
import express4 from 'express4';
import { afterEach, describe, expect, it } from 'vitest';
import { express4MountTemplates, templateFromParams } from '../../../src/http/express-mounts.js';
import { expressMiddleware, httpMetrics, instrumentNodeHttp } from '../../../src/http/index.js';
import { Telemeter } from '../../../src/index.js';
import { expectRoutesMatchRouter, type RouteCase, ServedRoutes } from '../conformance.js';
import { close, find, listen, parseSamples, recordEvents, send, sendAll, waitFor } from '../helpers.js';

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
  const metrics = expressMiddleware();
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
  // An error that carries a 4xx status is Express's answer (finalhandler sends that status), not a failure.
  app.get(
    '/gone',
    mark('/gone', (_req, _res, next) => next(Object.assign(new Error('gone'), { status: 410 }))),
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
  // A param callback that fails leaves the route matched but never dispatched: it is still the route.
  tenant.param('doc', (req, _res, next, doc) => {
    served.mark(req.headers, '/tenants/:tenant/docs/:doc');
    next(doc === 'missing' ? new Error('no such document') : undefined);
  });
  tenant.get('/docs/:doc', mark('/tenants/:tenant/docs/:doc', ok));
  // The first route passes the request on: the one that answers is the label.
  tenant.get('/items/:a', (_req, _res, next) => next());
  tenant.get('/items/:b', mark('/tenants/:tenant/items/:b', ok));
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

  // Each major's own path syntax in a mount: a custom capture and an optional parameter.
  const files = e.Router();
  if (variant.major === 4) {
    files.get('/meta', mark('/files/:id(\\d+)/meta', ok));
    app.use('/files/:id(\\d+)', files);
    const lang = e.Router();
    lang.get('/page', mark('/lang/:lang?/page', ok));
    app.use('/lang/:lang?', lang);
  } else {
    files.get('/meta', mark('/files/:id/meta', ok));
    app.use('/files/:id', files);
    const lang = e.Router();
    lang.get('/page', mark('/lang{/:lang}/page', ok));
    app.use('/lang{/:lang}', lang);
  }

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
      { path: '/tenants/acme/docs/readme', status: 200 },
      { path: '/tenants/acme/items/3', status: 200 },
      { path: '/files/12/meta', status: 200 },
      { path: '/files/13/meta', status: 200 },
      { path: '/lang/en/page', status: 200 },
      { path: '/lang/de/page', status: 200 },
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
      '/tenants/acme/docs/missing',
      // Express 4 does not catch a rejected promise: the request would hang, so only Express 5 is asked.
      ...(variant.major === 5 ? ['/boom/async'] : []),
    ];
    await expectRoutesMatchRouter(t, port, served, [
      ...failing.map((path) => ({ path, status: 500 })),
      { path: '/gone', status: 410 },
    ]);
    await waitFor(() => recorder.events.length === failing.length, 'one exception event per failure');
    expect(recorder.events.map((event) => event.metadata.route).sort()).toEqual(
      [
        '/boom/sync',
        '/boom/next',
        '/tenants/:tenant/fail',
        '/api/:version/items/:itemId/parts/:partId/fail',
        '/tenants/:tenant/docs/:doc',
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

describe('Express 5 on router 2.2', () => {
  it('labels param mounts by their parameters when layers keep no path', async () => {
    const t = telemeter();
    const app = express();
    app.use(expressMiddleware());
    const tenant = express.Router();
    tenant.get('/settings', (_req, res) => {
      res.send('ok');
    });
    const org = express.Router();
    org.use('/Tenants/:tenant', tenant);
    app.use('/orgs/:org', org);
    // router 2.2 (which Express 5's ^2.2.0 allows) has no layer.rawPath; 2.3 without it stands in for it.
    const forget = (stack: ReadonlyArray<{ rawPath?: unknown; handle?: { stack?: unknown } }>) => {
      for (const layer of stack) {
        delete layer.rawPath;
        if (Array.isArray(layer.handle?.stack)) forget(layer.handle.stack);
      }
    };
    forget(app.router.stack as never);
    const server = createServer(app);
    const port = await listen(server);
    cleanups.push(() => close(server));
    for (const path of ['/orgs/o1/Tenants/acme/settings', '/orgs/o2/tenants/globex/settings']) {
      expect((await send(port, path)).status).toBe(200);
    }
    await waitFor(
      () => find(t.scrape(), REQUESTS).reduce((sum, s) => sum + s.value, 0) === 2,
      'two requests',
    );
    // The parameters become templates; literal segments keep the request's letter case.
    expect(
      find(t.scrape(), REQUESTS)
        .map((s) => s.labels.route)
        .sort(),
    ).toEqual(['/orgs/:org/Tenants/:tenant/settings', '/orgs/:org/tenants/:tenant/settings']);
  });
});

describe('Express 4 mount templates, rebuilt from path-to-regexp 0.1', () => {
  const require = createRequire(import.meta.url);
  // Express 4's own copy, which is the one its router compiles mount paths with.
  const compile = createRequire(require.resolve('express4'))('path-to-regexp') as (
    path: unknown,
    keys: Array<{ name: string | number }>,
    options: { end: boolean; strict: boolean; sensitive: boolean },
  ) => RegExp;
  const mount = (path: unknown, sensitive = false) => {
    const keys: Array<{ name: string | number }> = [];
    return express4MountTemplates(compile(path, keys, { end: false, strict: false, sensitive }), keys);
  };

  it.each([
    '/tenants/:tenant',
    '/a/:p?',
    '/files/*',
    '/n/:id(\\d+)',
    '/n/:id(\\d+)?',
    '/x/:name*',
    '/f.:ext',
    '/a.b',
    '/user/:id/:op?',
    '/a-:b',
    '/:x/:y.json',
    '/API/Items',
    '/a b/é',
    '/a+b',
  ])('gives back %s, which compiles to the same expression', (path) => {
    for (const sensitive of [false, true]) {
      const [template] = mount(path, sensitive);
      expect(template).toBe(path);
      expect(compile(template, [], { end: false, strict: false, sensitive }).source).toBe(
        compile(path, [], { end: false, strict: false, sensitive }).source,
      );
    }
  });

  it('drops a trailing slash and gives the root as the empty template', () => {
    expect(mount('/a/')).toEqual(['/a']);
    expect(mount(['/', '/b'])).toEqual(['', '/b']);
  });

  it('gives one template per alternative of an array, in order', () => {
    expect(mount(['/shop', '/store/:region', '/s/:a/:b?'])).toEqual(['/shop', '/store/:region', '/s/:a/:b?']);
  });

  it("prints the application's own regular expressions as they are", () => {
    expect(mount(/^\/v\d+/)).toEqual(['/^\\/v\\d+/']);
    expect(mount(/^\/api\/?(?=\/|$)/i)).toEqual(['/api']);
    expect(mount(/\/(a|b)/)).toEqual(['/\\/(a|b)/']);
    expect(mount(['/a', /^\/b\d/])).toEqual(['/a', '/^\\/b\\d/']);
    expect(mount('/a/(foo)')).toEqual([
      String(compile('/a/(foo)', [], { end: false, strict: false, sensitive: false })),
    ]);
  });
});

describe('router 2.2 mount templates, from the match parameters', () => {
  it.each([
    ['/tenants/acme', { tenant: 'acme' }, '/tenants/:tenant'],
    ['/Tenants/acme/Sub', { tenant: 'acme' }, '/Tenants/:tenant/Sub'],
    ['/t/a%20b', { t: 'a b' }, '/t/:t'],
    ['/t/%E0%A4%A', { t: '%E0%A4%A' }, '/t/:t'],
    ['/x/1/1', { a: '1', b: '1' }, '/x/:a/:b'],
    ['/files/a/b/meta', { rest: ['a', 'b'] }, '/files/*rest/meta'],
    ['/static', {}, '/static'],
  ])('%s with %j is %s', (piece, params, template) => {
    expect(templateFromParams(piece, params)).toBe(template);
  });
});
