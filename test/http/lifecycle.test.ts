import { createServer, request as httpRequest, type Server } from 'node:http';
import { connect } from 'node:net';
import express from 'express';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import {
  expressMiddleware,
  honoMiddleware,
  httpMetrics,
  instrumentHttpServer,
  instrumentNodeHttp,
  UNMATCHED_ROUTE,
} from '../../src/http/index.js';
import { attach, detach, monotonicTime, Telemeter } from '../../src/index.js';
import {
  abortMidResponse,
  close,
  find,
  listen,
  recordEvents,
  sampleValue,
  send,
  sumOf,
  waitFor,
} from './helpers.js';

const REQUESTS = 'http_server_requests_total';
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function telemeter(): Telemeter {
  const t = new Telemeter({ metrics: httpMetrics() });
  cleanups.push(() => t.close());
  return t;
}

async function serve(server: Server): Promise<number> {
  const port = await listen(server);
  cleanups.push(() => close(server));
  return port;
}

function record(names: string[]) {
  const recorder = recordEvents(names);
  cleanups.push(() => recorder.stop());
  return recorder.events;
}

describe('node:http lifecycle', () => {
  it('emits start and stop with monotonic ns durations and the documented metadata', async () => {
    const events = record(['http.server.request.start', 'http.server.request.stop']);
    // What the handler saw of telemeter's monotonic clock, when it began and when it answered.
    const handled: number[] = [];
    const server = createServer((_req, res) => {
      handled.push(monotonicTime());
      setTimeout(() => {
        handled.push(monotonicTime());
        res.end('hello');
      }, 20);
    });
    instrumentHttpServer(server, { route: ['/greet/:name'] });
    const port = await serve(server);
    await send(port, '/greet/ada?x=1', { method: 'PUT', body: 'abc' });
    await waitFor(() => events.length === 2, 'start and stop');

    const [start, stop] = events;
    expect(start.name).toBe('http.server.request.start');
    expect(Object.keys(start.measurements).sort()).toEqual(['monotonic_time', 'system_time']);
    expect(start.metadata.method).toBe('PUT');
    expect(stop.name).toBe('http.server.request.stop');
    expect(stop.metadata).toMatchObject({
      method: 'PUT',
      route: '/greet/:name',
      status: '200',
      outcome: 'completed',
    });
    expect(stop.measurements).toMatchObject({ response_size: 5, request_size: 3 });
    // The request encloses the handler's run, on telemeter's monotonic clock in native nanoseconds.
    expect(start.measurements.monotonic_time as number).toBeLessThanOrEqual(handled[0]);
    expect(stop.measurements.monotonic_time as number).toBeGreaterThanOrEqual(handled[1]);
    // Same clock: the stop time is the start time plus the duration (each rounded to whole nanoseconds).
    const end = (start.measurements.monotonic_time as number) + (stop.measurements.duration as number);
    expect(Math.abs((stop.measurements.monotonic_time as number) - end)).toBeLessThanOrEqual(1);
    expect(Number.isInteger(stop.measurements.duration)).toBe(true);
    // And a reading taken now is later than the stop.
    expect(monotonicTime()).toBeGreaterThan(stop.measurements.monotonic_time as number);
  });

  it('labels a plain server <unmatched> without templates, or with what route(req) returns', async () => {
    const t = telemeter();
    const bare = createServer((_req, res) => res.end());
    instrumentHttpServer(bare);
    const custom = createServer((_req, res) => res.end());
    instrumentHttpServer(custom, { route: (req) => (req.url?.startsWith('/v1/') ? '/v1/*' : undefined) });
    const [a, b] = [await serve(bare), await serve(custom)];
    await send(a, '/anything/123');
    await send(b, '/v1/x/y');
    await send(b, '/v2');
    await waitFor(() => sampleValue(t.scrape(), REQUESTS, { route: UNMATCHED_ROUTE }) === 2, 'two unmatched');
    expect(sampleValue(t.scrape(), REQUESTS, { route: '/v1/*' })).toBe(1);
  });

  it('folds non-standard methods into _OTHER', async () => {
    const t = telemeter();
    const server = createServer((_req, res) => res.end());
    instrumentHttpServer(server);
    const port = await serve(server);
    await send(port, '/', { method: 'PROPFIND' });
    await send(port, '/', { method: 'MKCOL' });
    await waitFor(() => sampleValue(t.scrape(), REQUESTS, { method: '_OTHER' }) === 2, 'two _OTHER requests');
  });

  it('counts a socket timeout as outcome timeout with status 504', async () => {
    const events = record(['http.server.request.stop']);
    const server = createServer((req, res) => {
      if (req.url === '/hang') res.setTimeout(100);
      else res.end();
    });
    instrumentHttpServer(server, { route: ['/hang'] });
    const port = await serve(server);
    await expect(send(port, '/hang')).rejects.toThrow(/socket hang up/);
    await waitFor(() => events.length === 1, 'the stop event');
    expect(events[0].metadata).toMatchObject({ route: '/hang', status: '504', outcome: 'timeout' });
  });

  it("counts Node's requestTimeout (a body that never arrives) as a timeout", async () => {
    const events = record(['http.server.request.stop']);
    const server = createServer({ requestTimeout: 300, connectionsCheckingInterval: 50 }, () => {});
    instrumentHttpServer(server, { timeoutStatus: '408' });
    const port = await serve(server);
    await new Promise<void>((resolve) => {
      const socket = connect(port, '127.0.0.1', () =>
        socket.write('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\npartial'),
      );
      socket.on('data', () => {});
      socket.on('error', () => {});
      socket.on('close', () => resolve());
    });
    await waitFor(() => events.length === 1, 'the stop event');
    expect(events[0].metadata).toMatchObject({ status: '408', outcome: 'timeout' });
  });

  it('reports in-flight requests per method and returns to zero', async () => {
    const t = telemeter();
    const server = createServer((_req, res) => {
      res.writeHead(200);
      res.write('a');
    });
    instrumentHttpServer(server);
    const port = await serve(server);
    const active = () => sampleValue(t.scrape(), 'http_server_active_requests', { method: 'GET' });
    const socket = connect(port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await new Promise((resolve) => socket.once('data', resolve));
    expect(active()).toBe(1);
    socket.destroy();
    await waitFor(() => active() === 0, 'the gauge back at 0');
    expect(sampleValue(t.scrape(), REQUESTS, { status: '499' })).toBe(1);
  });

  it('has the in-flight gauge exact when the stop event is emitted, whatever the turn', async () => {
    const t = telemeter();
    const server = createServer((req, res) => {
      res.writeHead(200);
      if (req.url === '/slow') res.write('a');
      else res.end('ok');
    });
    instrumentHttpServer(server, { route: ['/slow', '/fast'] });
    const port = await serve(server);
    // What a stop handler reads from the metrics: the gauge and the request count, by route.
    const seenAtStop: Array<[unknown, number]> = [];
    const recorder = `test-gauge-at-stop`;
    attach(recorder, 'http.server.request.stop', (_name, _measurements, metadata) => {
      seenAtStop.push([
        metadata.route,
        sampleValue(t.scrape(), 'http_server_active_requests', { method: 'GET' }),
      ]);
    });
    cleanups.push(() => detach(recorder));
    // An abort ends the request in another turn than its start: the start has long been reported.
    await abortMidResponse(port, '/slow');
    await waitFor(() => seenAtStop.length === 1, 'the aborted request');
    // A request that starts and finishes while /slow is in flight, then /slow aborted in the same turn as the
    // client's own close: the gauge is read both from the stop handler and right after the stop.
    const slow = connect(port, '127.0.0.1', () => slow.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n'));
    slow.on('error', () => {});
    await new Promise((resolve) => slow.once('data', resolve));
    await send(port, '/fast');
    await waitFor(() => seenAtStop.length === 2, 'the fast request');
    slow.destroy();
    await waitFor(() => seenAtStop.length === 3, 'the second aborted request');
    expect(sampleValue(t.scrape(), 'http_server_active_requests', { method: 'GET' })).toBe(0);
    expect(seenAtStop).toEqual([
      ['/slow', 0],
      ['/fast', 1],
      ['/slow', 0],
    ]);
  });

  it('instrumentNodeHttp covers every server until uninstalled, and the ignore list', async () => {
    const t = telemeter();
    const uninstall = instrumentNodeHttp({ ignore: ['/metrics'] });
    cleanups.push(uninstall);
    // The application's own close listener runs after the instrumentation's, which Node added when the request
    // arrived: once it ran, a stop event for that request would have been emitted.
    let closed = 0;
    const server = createServer((_req, res) => {
      res.on('close', () => closed++);
      res.end('ok');
    });
    const port = await serve(server);
    await send(port, '/a');
    await send(port, '/metrics?x=1');
    await waitFor(() => closed === 2, 'two responses closed');
    expect(sumOf(t.scrape(), REQUESTS)).toBe(1);
    expect(sampleValue(t.scrape(), REQUESTS, { route: UNMATCHED_ROUTE })).toBe(1);
    uninstall();
    await send(port, '/b');
    await waitFor(() => closed === 3, 'the third response closed');
    expect(sumOf(t.scrape(), REQUESTS)).toBe(1);
  });
});

describe('how the end of a response is observed', () => {
  it("adds no listener to a Node server's responses, and still sees aborts through the connection", async () => {
    const t = telemeter();
    const closeListeners: number[] = [];
    const server = createServer((req, res) => {
      closeListeners.push(res.listenerCount('close'), res.listenerCount('finish'));
      if (req.url === '/slow') res.write('partial');
      else res.end('ok');
    });
    cleanups.push(instrumentHttpServer(server, { route: ['/fast', '/slow'] }));
    const port = await serve(server);
    expect((await send(port, '/fast')).status).toBe(200);
    // Node's server adds its own 'finish' listener and nothing else: telemeter adds neither.
    expect(closeListeners).toEqual([0, 1]);
    await abortMidResponse(port, '/slow');
    await waitFor(() => sumOf(t.scrape(), REQUESTS) === 2, 'both requests');
    expect(sampleValue(t.scrape(), REQUESTS, { route: '/fast', status: '200' })).toBe(1);
    expect(sampleValue(t.scrape(), REQUESTS, { route: '/slow', status: '499' })).toBe(1);
    expect(sampleValue(t.scrape(), 'http_server_active_requests', { method: 'GET' })).toBe(0);
  });
});

describe('adapters sharing one request', () => {
  it('counts once when node:http and Express both instrument it, with the Express route', async () => {
    const t = telemeter();
    cleanups.push(instrumentNodeHttp());
    const app = express();
    app.use(expressMiddleware());
    app.get('/users/:id', (_req, res) => {
      res.send('x');
    });
    const port = await serve(createServer(app));
    await send(port, '/users/1');
    await send(port, '/users/2');
    await waitFor(() => sumOf(t.scrape(), REQUESTS) === 2, 'two requests');
    expect(find(t.scrape(), REQUESTS).map((s) => s.labels)).toEqual([
      { method: 'GET', route: '/users/:id', status: '200' },
    ]);
  });
});

describe('Express routes', () => {
  it('keeps the mount path of a nested router when its route throws', async () => {
    const t = telemeter();
    const events = record(['http.server.request.exception']);
    const app = express();
    app.set('env', 'test');
    const metrics = expressMiddleware();
    app.use(metrics);
    const orders = express.Router();
    orders.get('/:id/fail', () => {
      throw new Error('nested');
    });
    orders.get('/:id', (_req, res) => {
      res.send('order');
    });
    const v1 = express.Router();
    v1.use('/orders', orders);
    app.use('/v1', v1);
    app.use(metrics.errorHandler);
    const port = await serve(createServer(app));
    expect((await send(port, '/v1/orders/7/fail')).status).toBe(500);
    expect((await send(port, '/v1/orders/8')).status).toBe(200);
    await waitFor(() => sumOf(t.scrape(), REQUESTS) === 2, 'two requests');
    expect(find(t.scrape(), REQUESTS).map((s) => s.labels)).toEqual([
      { method: 'GET', route: '/v1/orders/:id', status: '200' },
      { method: 'GET', route: '/v1/orders/:id/fail', status: '500' },
    ]);
    expect(events.map((e) => e.metadata.route)).toEqual(['/v1/orders/:id/fail']);
  });
});

describe('Express req.route', () => {
  it('stays readable by the application, and a route that falls through labels the one that answered', async () => {
    const t = telemeter();
    const seen: unknown[] = [];
    const app = express();
    app.use(expressMiddleware());
    app.get('/items/:id', (req, _res, next) => {
      seen.push(req.route?.path);
      next();
    });
    app.get('/items/:itemId', (req, res) => {
      seen.push(req.route?.path);
      res.on('finish', () => seen.push(req.route?.path));
      res.send('x');
    });
    const port = await serve(createServer(app));
    expect((await send(port, '/items/3')).status).toBe(200);
    await waitFor(() => sumOf(t.scrape(), REQUESTS) === 1, 'one request');
    expect(seen).toEqual(['/items/:id', '/items/:itemId', '/items/:itemId']);
    expect(find(t.scrape(), REQUESTS).map((s) => s.labels.route)).toEqual(['/items/:itemId']);
  });
});

describe('pipelined requests', () => {
  it('tracks each request of a pipelined batch on one connection with its own route and status', async () => {
    const t = telemeter();
    const app = express();
    app.use(expressMiddleware());
    app.get('/a/:id', (_req, res) => {
      setTimeout(() => res.send('a'), 20);
    });
    app.get('/b/:id', (_req, res) => {
      res.status(202).send('b');
    });
    const port = await serve(createServer(app));
    await new Promise<void>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.write(
          'GET /a/1 HTTP/1.1\r\nHost: x\r\n\r\nGET /b/2 HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
        );
      });
      socket.on('data', () => {});
      socket.on('error', reject);
      socket.on('close', () => resolve());
    });
    await waitFor(() => sumOf(t.scrape(), REQUESTS) === 3, 'three requests');
    expect(find(t.scrape(), REQUESTS).map((s) => [s.labels.route, s.labels.status])).toEqual([
      ['/a/:id', '200'],
      ['/b/:id', '202'],
      [UNMATCHED_ROUTE, '404'],
    ]);
    expect(sampleValue(t.scrape(), 'http_server_active_requests', { method: 'GET' })).toBe(0);
  });
});

describe('Hono without node:http objects', () => {
  it('measures around the middleware chain when there are no node bindings (app.request)', async () => {
    const t = telemeter();
    const app = new Hono();
    app.use(honoMiddleware());
    app.get('/users/:id', (c) => c.text('user'));
    expect((await app.request('/users/1')).status).toBe(200);
    expect((await app.request('/missing')).status).toBe(404);
    const body = t.scrape();
    expect(find(body, REQUESTS).map((s) => [s.labels, s.value])).toEqual([
      [{ method: 'GET', route: '/users/:id', status: '200' }, 1],
      [{ method: 'GET', route: UNMATCHED_ROUTE, status: '404' }, 1],
    ]);
    // Hono leaves Content-Length to the runtime, so there is no declared size to record here.
    expect(sampleValue(body, 'http_server_response_size_bytes_count', { route: '/users/:id' })).toBe(0);
  });
});

describe('aborted requests on a keep-alive connection', () => {
  it('attributes an abort to the request in flight, not to the earlier ones', async () => {
    const t = telemeter();
    const server = createServer((req, res) => {
      if (req.url === '/slow') {
        res.writeHead(200);
        res.write('a');
      } else res.end('ok');
    });
    instrumentHttpServer(server, { route: ['/slow', '/fast'] });
    const port = await serve(server);
    await send(port, '/fast');
    await abortMidResponse(port, '/slow');
    // A plain http.request with an explicit destroy, as an application client would abort.
    await new Promise<void>((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/slow', agent: false }, (res) => {
        res.once('data', () => req.destroy());
      });
      req.on('error', () => {});
      req.on('close', () => resolve());
      req.end();
    });
    await waitFor(() => sampleValue(t.scrape(), REQUESTS, { route: '/slow' }) === 2, 'two aborted requests');
    expect(find(t.scrape(), REQUESTS).map((s) => [s.labels, s.value])).toEqual([
      [{ method: 'GET', route: '/fast', status: '200' }, 1],
      [{ method: 'GET', route: '/slow', status: '499' }, 2],
    ]);
  });
});
