/**
 * HTTP/2: node:http2 servers (h2c and TLS, compatibility and core APIs) under instrumentHttpServer, and Fastify's
 * `http2: true` under fastifyPlugin, driven by real `http2.connect` clients on 127.0.0.1.
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import {
  type ClientHttp2Session,
  connect,
  constants,
  createSecureServer,
  createServer,
  type Http2SecureServer,
  type Http2Server,
  Http2ServerRequest,
  Http2ServerResponse,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import Router from '@koa/router';
import Fastify, { type FastifyInstance } from 'fastify';
import Fastify4 from 'fastify4';
import { Hono } from 'hono';
import Koa from 'koa';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  fastifyPlugin,
  honoMiddleware,
  httpMetrics,
  instrumentHttpServer,
  koaMiddleware,
  trackerOf,
} from '../../src/http/index.js';
import { Telemeter } from '../../src/index.js';
import { requireTool } from '../support/tools.js';
import { find, type RecordedEvent, recordEvents, sampleValue, waitFor } from './helpers.js';

const REQUESTS = 'http_server_requests_total';
const ROUTES = ['/users/:id', '/late', '/stream', '/upload', '/boom'];
const hasOpenssl = requireTool('/usr/bin/openssl', { debianPackage: 'openssl', probeArgs: ['version'] });

interface H2Reply {
  readonly status: number;
  readonly body: string;
}

/** One request on an HTTP/2 session; resolves with status and body. */
function h2Send(client: ClientHttp2Session, path: string, method = 'GET', body?: string): Promise<H2Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ':path': path, ':method': method };
    if (body !== undefined) headers['content-length'] = Buffer.byteLength(body);
    const stream = client.request(headers);
    let status = 0;
    let text = '';
    stream.setEncoding('utf8');
    stream.on('response', (h) => {
      status = Number(h[':status']);
    });
    stream.on('data', (chunk: string) => {
      text += chunk;
    });
    stream.on('end', () => resolve({ status, body: text }));
    stream.on('error', reject);
    stream.setTimeout(10_000, () => stream.close(constants.NGHTTP2_CANCEL));
    stream.end(body);
  });
}

/**
 * Opens a request to a handler that answers late, waits until the server saw it (`arrived`), then cancels the
 * stream with RST_STREAM(CANCEL) before any response byte.
 */
async function h2AbortBefore(
  client: ClientHttp2Session,
  path: string,
  arrived: () => boolean,
): Promise<void> {
  const stream = client.request({ ':path': path });
  stream.on('error', () => {});
  stream.end();
  await waitFor(arrived, `the server saw ${path}`);
  stream.close(constants.NGHTTP2_CANCEL);
  await once(stream, 'close');
}

/** One HTTP/1.1 GET over TLS; resolves with the status. */
function https11Get(port: number, path: string, ca: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port, path, ca, servername: 'localhost', agent: false },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`request ${path} timed out`)));
    req.end();
  });
}

/** A handler's answer for the shared routes, in terms either API can send. */
interface Answer {
  readonly status: number;
  readonly body: string;
  /** Sent in chunks without a Content-Length. */
  readonly streamed?: boolean;
  /** Never answered: the client aborts it. */
  readonly late?: boolean;
}

function answerFor(method: string | undefined, path: string | undefined): Answer {
  if (path?.startsWith('/users/')) return { status: 200, body: 'user' };
  if (path === '/late') return { status: 200, body: '', late: true };
  if (path === '/stream') return { status: 200, body: 'chunk', streamed: true };
  if (path === '/upload' && method === 'POST') return { status: 201, body: 'created' };
  return { status: 404, body: 'not found' };
}

interface H2App {
  readonly server: Http2Server | Http2SecureServer;
  /** Requests to /late that reached the handler. */
  lateArrivals: number;
}

/** The compatibility API: a `request` listener with `(req, res)`. */
function compatHandler(app: { lateArrivals: number }) {
  return (req: Http2ServerRequest, res: Http2ServerResponse) => {
    const answer = answerFor(req.method, req.url);
    req.resume();
    if (answer.late) {
      app.lateArrivals++;
      return;
    }
    res.statusCode = answer.status;
    if (answer.streamed) {
      res.write(answer.body);
      setImmediate(() => res.end(answer.body));
      return;
    }
    res.setHeader('content-length', Buffer.byteLength(answer.body));
    res.end(answer.body);
  };
}

/** The core API: a `stream` listener that answers with `stream.respond()`. */
function streamHandler(app: { lateArrivals: number }) {
  return (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    const answer = answerFor(headers[':method'], headers[':path']);
    stream.resume();
    if (answer.late) {
      app.lateArrivals++;
      return;
    }
    if (answer.streamed) {
      stream.respond({ ':status': answer.status });
      stream.write(answer.body);
      setImmediate(() => stream.end(answer.body));
      return;
    }
    stream.respond({ ':status': answer.status, 'content-length': Buffer.byteLength(answer.body) });
    stream.end(answer.body);
  };
}

async function listen(server: Http2Server | Http2SecureServer): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

describe('node:http2 with instrumentHttpServer', () => {
  let telemeter: Telemeter;
  let recorder: { events: RecordedEvent[]; stop(): void };
  const cleanups: (() => Promise<void> | void)[] = [];

  const start = async (
    server: Http2Server | Http2SecureServer,
    app: H2App,
    url: (port: number) => string,
    connectOptions: object = {},
  ) => {
    telemeter = new Telemeter({ metrics: httpMetrics() });
    recorder = recordEvents(['http.server.request.stop']);
    const uninstall = instrumentHttpServer(server, { route: ROUTES });
    const port = await listen(server);
    const client = connect(url(port), connectOptions);
    cleanups.push(() => {
      recorder.stop();
      uninstall();
      telemeter.close();
    });
    cleanups.push(async () => {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    return { client, port, app };
  };

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  const scrape = () => telemeter.scrape();
  const total = () => find(scrape(), REQUESTS).reduce((sum, s) => sum + s.value, 0);

  /** The same scenario for every kind of server: exact counts, sizes, the gauge and an abort. */
  async function exercise(client: ClientHttp2Session, app: H2App, protocol = '2'): Promise<void> {
    const replies = await Promise.all([
      h2Send(client, '/users/1'),
      h2Send(client, '/users/2'),
      h2Send(client, '/users/3'),
      h2Send(client, '/nope'),
      h2Send(client, '/stream'),
      h2Send(client, '/upload', 'POST', 'twelve bytes'),
    ]);
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 404, 200, 201]);
    expect(replies[4].body).toBe('chunkchunk');
    await waitFor(() => total() === 6, '6 requests recorded');

    await h2AbortBefore(client, '/late', () => app.lateArrivals === 1);
    await waitFor(() => total() === 7, 'the aborted request recorded');

    const body = scrape();
    expect(find(body, REQUESTS).map((s) => [s.labels, s.value])).toEqual([
      [{ method: 'GET', route: '/late', status: '499' }, 1],
      [{ method: 'GET', route: '/stream', status: '200' }, 1],
      [{ method: 'GET', route: '/users/:id', status: '200' }, 3],
      [{ method: 'GET', route: '<unmatched>', status: '404' }, 1],
      [{ method: 'POST', route: '/upload', status: '201' }, 1],
    ]);
    const duration = 'http_server_request_duration_seconds_count';
    expect(sampleValue(body, duration, { route: '/users/:id', status: '200' })).toBe(3);
    expect(sampleValue(body, duration, { route: '/late', status: '499' })).toBe(1);
    // "user" is 4 bytes; the streamed response declared no length, so it has no size sample.
    expect(sampleValue(body, 'http_server_response_size_bytes_sum', { route: '/users/:id' })).toBe(12);
    expect(sampleValue(body, 'http_server_response_size_bytes_count', { route: '/stream' })).toBe(0);
    expect(sampleValue(body, 'http_server_active_requests', { method: 'GET' })).toBe(0);
    expect(sampleValue(body, 'http_server_active_requests', { method: 'POST' })).toBe(0);

    const stops = recorder.events;
    expect(stops).toHaveLength(7);
    expect(new Set(stops.map((e) => e.metadata.protocol))).toEqual(new Set([protocol]));
    const upload = stops.find((e) => e.metadata.route === '/upload');
    expect(upload?.measurements.request_size).toBe(12);
    expect(upload?.measurements.response_size).toBe(7);
    const aborted = stops.find((e) => e.metadata.route === '/late');
    expect(aborted?.metadata).toMatchObject({ status: '499', outcome: 'aborted' });
  }

  it('h2c, compatibility API: exact counts, sizes, the gauge, and a cancelled stream as 499', async () => {
    const app: H2App = { server: createServer(), lateArrivals: 0 };
    app.server.on('request', compatHandler(app));
    const { client } = await start(app.server, app, (port) => `http://127.0.0.1:${port}`);
    await exercise(client, app);
    // The compatibility objects reach the events, so custom metrics read the usual request.
    for (const event of recorder.events) {
      expect(event.metadata.request).toBeInstanceOf(Http2ServerRequest);
      expect(event.metadata.response).toBeInstanceOf(Http2ServerResponse);
    }
  });

  it('h2c, compatibility API: a request listener added after instrumenting is still seen once', async () => {
    const app: H2App = { server: createServer(), lateArrivals: 0 };
    const { client } = await start(app.server, app, (port) => `http://127.0.0.1:${port}`);
    app.server.on('request', compatHandler(app));
    await exercise(client, app);
  });

  it('h2c, core API: streams answered with stream.respond()', async () => {
    const app: H2App = { server: createServer(), lateArrivals: 0 };
    app.server.on('stream', streamHandler(app));
    const { client } = await start(app.server, app, (port) => `http://127.0.0.1:${port}`);
    await exercise(client, app);
    // No compatibility request was built: the events carry the method, path and headers of the stream.
    expect(recorder.events[0].metadata.request).toMatchObject({ httpVersion: '2.0' });
    expect(recorder.events[0].metadata.response).toBeUndefined();
  });

  it('reports the active gauge while a stream is in flight', async () => {
    const app: H2App = { server: createServer(), lateArrivals: 0 };
    app.server.on('stream', streamHandler(app));
    const { client } = await start(app.server, app, (port) => `http://127.0.0.1:${port}`);
    const stream = client.request({ ':path': '/late' });
    stream.on('error', () => {});
    stream.end();
    await waitFor(
      () => sampleValue(scrape(), 'http_server_active_requests', { method: 'GET' }) === 1,
      'one request in flight',
    );
    stream.close(constants.NGHTTP2_CANCEL);
    await waitFor(() => total() === 1, 'the cancelled request recorded');
    expect(sampleValue(scrape(), 'http_server_active_requests', { method: 'GET' })).toBe(0);
  });

  it('counts the streams of a destroyed session as aborted', async () => {
    const app: H2App = { server: createServer(), lateArrivals: 0 };
    app.server.on('request', compatHandler(app));
    const { client } = await start(app.server, app, (port) => `http://127.0.0.1:${port}`);
    for (let i = 0; i < 2; i++) client.request({ ':path': '/late' }).on('error', () => {});
    await waitFor(() => app.lateArrivals === 2, 'both requests reached the server');
    client.destroy();
    await waitFor(() => total() === 2, 'both requests recorded');
    expect(sampleValue(scrape(), REQUESTS, { route: '/late', status: '499' })).toBe(2);
  });

  it('finds the tracker of a compatibility response, so handlers can report errors', async () => {
    const app: H2App = { server: createServer(), lateArrivals: 0 };
    app.server.on('request', (_req, res) => {
      trackerOf(res)?.fail(new Error('no luck'));
      res.statusCode = 500;
      res.end();
    });
    const { client } = await start(app.server, app, (port) => `http://127.0.0.1:${port}`);
    expect((await h2Send(client, '/boom')).status).toBe(500);
    await waitFor(() => total() === 1, 'the failed request');
    expect(recorder.events[0].metadata).toMatchObject({ route: '/boom', status: '500', outcome: 'error' });
  });

  it('counts a stream cut after its first response bytes as 499', async () => {
    const app: H2App = { server: createServer(), lateArrivals: 0 };
    let release: () => void = () => {};
    app.server.on('stream', (stream) => {
      stream.respond({ ':status': 200 });
      stream.write('first');
      release = () => stream.end('last');
    });
    const { client } = await start(app.server, app, (port) => `http://127.0.0.1:${port}`);
    const stream = client.request({ ':path': '/stream' });
    stream.on('error', () => {});
    stream.end();
    await once(stream, 'data');
    stream.close(constants.NGHTTP2_CANCEL);
    await waitFor(() => total() === 1, 'the cut request recorded');
    release();
    expect(recorder.events[0].metadata).toMatchObject({
      route: '/stream',
      status: '499',
      outcome: 'aborted',
    });
  });

  it('counts streams the server timed out as 504: a stream timeout, and an idle session', async () => {
    const app: H2App = { server: createServer(), lateArrivals: 0 };
    app.server.on('stream', (stream, headers) => {
      // The stream timeout cancels one request; the session timeout (no server listener) destroys the session.
      if (headers[':path'] === '/late') stream.setTimeout(50, () => stream.close(constants.NGHTTP2_CANCEL));
    });
    app.server.setTimeout(300);
    const { client } = await start(app.server, app, (port) => `http://127.0.0.1:${port}`);
    client.on('error', () => {});
    for (const path of ['/late', '/users/1']) client.request({ ':path': path }).on('error', () => {});
    await waitFor(() => total() === 2, 'both timed-out requests recorded');
    expect(recorder.events.map((e) => [e.metadata.route, e.metadata.status, e.metadata.outcome])).toEqual([
      ['/late', '504', 'timeout'],
      ['/users/:id', '504', 'timeout'],
    ]);
  });

  it.each([
    ['compatibility API', 'request'],
    ['core API', 'stream'],
  ])('ignore applies to HTTP/2 requests (%s)', async (_name, api) => {
    const app: H2App = { server: createServer(), lateArrivals: 0 };
    if (api === 'request') app.server.on('request', compatHandler(app));
    else app.server.on('stream', streamHandler(app));
    telemeter = new Telemeter({ metrics: httpMetrics() });
    const seen: string[] = [];
    const uninstall = instrumentHttpServer(app.server, {
      ignore: (req) => {
        seen.push(`${req.method} ${req.url}`);
        return req.url === '/users/0';
      },
    });
    const port = await listen(app.server);
    const client = connect(`http://127.0.0.1:${port}`);
    cleanups.push(async () => {
      uninstall();
      telemeter.close();
      client.destroy();
      await new Promise<void>((resolve) => app.server.close(() => resolve()));
    });
    await h2Send(client, '/users/0');
    await h2Send(client, '/users/1?x=1');
    await waitFor(() => total() === 1, 'the measured request');
    expect(seen).toEqual(['GET /users/0', 'GET /users/1?x=1']);
    expect(sampleValue(telemeter.scrape(), REQUESTS, { route: '<unmatched>', status: '200' })).toBe(1);
  });

  it('leaves a core-API server on the core API, and uninstalls', async () => {
    const app: H2App = { server: createServer(), lateArrivals: 0 };
    app.server.on('stream', streamHandler(app));
    const before = app.server.listenerCount('stream');
    const watchers = app.server.listenerCount('newListener');
    const { client } = await start(app.server, app, (port) => `http://127.0.0.1:${port}`);
    // A 'request' listener would make Node wrap every stream in compatibility objects.
    expect(app.server.listenerCount('request')).toBe(0);
    await h2Send(client, '/users/1');
    await waitFor(() => total() === 1, 'the first request');
    cleanups.shift()?.();
    expect(app.server.listenerCount('stream')).toBe(before);
    expect(app.server.listenerCount('newListener')).toBe(watchers);
    expect((await h2Send(client, '/users/2')).status).toBe(200);
  });

  describe.skipIf(!hasOpenssl)('TLS', () => {
    let key: Buffer;
    let cert: Buffer;
    beforeAll(() => {
      const dir = mkdtempSync(join(tmpdir(), 'telemeter-h2-'));
      try {
        execFileSync(
          '/usr/bin/openssl',
          [
            'req',
            '-x509',
            '-newkey',
            'ec',
            '-pkeyopt',
            'ec_paramgen_curve:prime256v1',
            '-nodes',
            '-days',
            '1',
            '-subj',
            '/CN=localhost',
            '-keyout',
            join(dir, 'key.pem'),
            '-out',
            join(dir, 'cert.pem'),
          ],
          { stdio: 'ignore' },
        );
        key = readFileSync(join(dir, 'key.pem'));
        cert = readFileSync(join(dir, 'cert.pem'));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('createSecureServer with allowHTTP1: HTTP/2 and HTTP/1.1 clients on the same server', async () => {
      const app: H2App = { server: createSecureServer({ key, cert, allowHTTP1: true }), lateArrivals: 0 };
      app.server.on('request', compatHandler(app));
      const { client, port } = await start(app.server, app, (p) => `https://localhost:${p}`, { ca: cert });
      await exercise(client, app);

      expect(await https11Get(port, '/users/9', cert)).toBe(200);
      await waitFor(() => total() === 8, 'the HTTP/1.1 request recorded');
      expect(sampleValue(scrape(), REQUESTS, { route: '/users/:id', status: '200' })).toBe(4);
      const http1 = recorder.events.filter((e) => e.metadata.protocol === '1.1');
      expect(http1.map((e) => e.metadata.route)).toEqual(['/users/:id']);
      expect(recorder.events.filter((e) => e.metadata.protocol === '2')).toHaveLength(7);
    });

    it('Fastify 5 with http2 and https (allowHTTP1): HTTP/2 and HTTP/1.1 clients', async () => {
      telemeter = new Telemeter({ metrics: httpMetrics() });
      recorder = recordEvents(['http.server.request.stop']);
      const app = Fastify({ http2: true, https: { key, cert, allowHTTP1: true } });
      await app.register(fastifyPlugin);
      app.get('/users/:id', async () => 'user');
      const address = await app.listen({ port: 0, host: '127.0.0.1' });
      const client = connect(address.replace('127.0.0.1', 'localhost'), { ca: cert });
      cleanups.push(async () => {
        recorder.stop();
        telemeter.close();
        client.destroy();
        await app.close();
      });
      expect((await h2Send(client, '/users/1')).status).toBe(200);
      expect((await h2Send(client, '/nope')).status).toBe(404);
      expect(await https11Get((app.server.address() as AddressInfo).port, '/users/2', cert)).toBe(200);
      await waitFor(() => total() === 3, '3 requests recorded');
      expect(find(scrape(), REQUESTS).map((s) => [s.labels, s.value])).toEqual([
        [{ method: 'GET', route: '/users/:id', status: '200' }, 2],
        [{ method: 'GET', route: '<unmatched>', status: '404' }, 1],
      ]);
      expect(recorder.events.map((e) => [e.metadata.route, e.metadata.protocol])).toEqual([
        ['/users/:id', '2'],
        ['<unmatched>', '2'],
        ['/users/:id', '1.1'],
      ]);
    });

    it('createSecureServer, core API', async () => {
      const app: H2App = { server: createSecureServer({ key, cert }), lateArrivals: 0 };
      app.server.on('stream', streamHandler(app));
      const { client } = await start(app.server, app, (p) => `https://localhost:${p}`, { ca: cert });
      await exercise(client, app);
    });
  });
});

describe('instrumentHttpServer refuses what it cannot instrument', () => {
  it.each([
    ['a net.Server', () => createNetServer()],
    ['a plain object', () => ({})],
    ['null', () => null],
    ['a Fastify instance', () => Fastify()],
    ['an object with only event methods', () => ({ prependListener() {}, listenerCount: () => 0 })],
  ])('%s', (_name, make) => {
    const value = make();
    let error: (Error & { code?: string }) | undefined;
    try {
      instrumentHttpServer(value as never);
    } catch (caught) {
      error = caught as Error & { code?: string };
    }
    expect(error).toBeInstanceOf(TypeError);
    expect(error?.code).toBe('ERR_TELEMETER_INVALID_ARGUMENT');
    expect(error?.message).toContain('node:http2 server from createServer or createSecureServer');
    if ((value as { close?: unknown } | null)?.close instanceof Function)
      (value as { close(): void }).close();
  });
});

describe.each([
  ['Fastify 5', Fastify as unknown as typeof Fastify],
  ['Fastify 4', Fastify4 as unknown as typeof Fastify],
])('%s with http2: true', (_name, fastify) => {
  let telemeter: Telemeter;
  let recorder: { events: RecordedEvent[]; stop(): void };
  let client: ClientHttp2Session;
  let app: FastifyInstance;
  let lateArrivals = 0;

  const build = async (alsoInstrumentServer: boolean) => {
    telemeter = new Telemeter({ metrics: httpMetrics() });
    recorder = recordEvents(['http.server.request.stop', 'http.server.request.exception']);
    lateArrivals = 0;
    app = fastify({ http2: true } as never) as unknown as FastifyInstance;
    await app.register(fastifyPlugin);
    app.get('/users/:id', async () => 'user');
    app.get('/boom', async () => {
      throw new Error('boom');
    });
    app.get('/late', (_request, reply) => {
      lateArrivals++;
      return reply;
    });
    app.register(
      async (child) => {
        child.get('/items/:id', async () => ({ id: 1 }));
      },
      { prefix: '/api' },
    );
    if (alsoInstrumentServer) instrumentHttpServer(app.server as never);
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    client = connect(address);
  };

  afterEach(async () => {
    recorder.stop();
    client.destroy();
    await app.close();
    telemeter.close();
  });

  const total = () => find(telemeter.scrape(), REQUESTS).reduce((sum, s) => sum + s.value, 0);

  it.each([
    ['fastifyPlugin alone', false],
    ['fastifyPlugin and instrumentHttpServer on app.server, counted once', true],
  ])('%s', async (_case, alsoInstrumentServer) => {
    await build(alsoInstrumentServer);
    const replies = await Promise.all(
      ['/users/1', '/users/2', '/api/items/7', '/boom', '/nope'].map((path) => h2Send(client, path)),
    );
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 500, 404]);
    await waitFor(() => total() === 5, '5 requests recorded');
    await h2AbortBefore(client, '/late', () => lateArrivals === 1);
    await waitFor(() => total() === 6, 'the aborted request recorded');

    const body = telemeter.scrape();
    expect(find(body, REQUESTS).map((s) => [s.labels, s.value])).toEqual([
      [{ method: 'GET', route: '/api/items/:id', status: '200' }, 1],
      [{ method: 'GET', route: '/boom', status: '500' }, 1],
      [{ method: 'GET', route: '/late', status: '499' }, 1],
      [{ method: 'GET', route: '/users/:id', status: '200' }, 2],
      [{ method: 'GET', route: '<unmatched>', status: '404' }, 1],
    ]);
    expect(
      sampleValue(body, 'http_server_request_duration_seconds_count', { route: '/users/:id', status: '200' }),
    ).toBe(2);
    // Fastify declares a Content-Length: "user" is 4 bytes.
    expect(sampleValue(body, 'http_server_response_size_bytes_sum', { route: '/users/:id' })).toBe(8);
    expect(sampleValue(body, 'http_server_active_requests', { method: 'GET' })).toBe(0);

    const stops = recorder.events.filter((e) => e.name === 'http.server.request.stop');
    expect(stops).toHaveLength(6);
    expect(new Set(stops.map((e) => e.metadata.protocol))).toEqual(new Set(['2']));
    const exceptions = recorder.events.filter((e) => e.name === 'http.server.request.exception');
    expect(exceptions.map((e) => [e.metadata.route, (e.metadata.reason as Error).message])).toEqual([
      ['/boom', 'boom'],
    ]);
  });
});

// Koa and @hono/node-server run on a node:http2 server's compatibility API unchanged; their adapters reach the
// HTTP/2 tracking through the same ServerCore.track as Fastify's.
describe('Koa and Hono on a node:http2 server', () => {
  let telemeter: Telemeter;
  let server: Http2Server;
  let client: ClientHttp2Session;

  afterEach(async () => {
    client.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    telemeter.close();
  });

  const run = async (make: () => Promise<Http2Server>) => {
    telemeter = new Telemeter({ metrics: httpMetrics() });
    server = await make();
    client = connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    const statuses = await Promise.all(['/users/1', '/users/2', '/nope'].map((p) => h2Send(client, p)));
    expect(statuses.map((r) => r.status)).toEqual([200, 200, 404]);
    const total = () => find(telemeter.scrape(), REQUESTS).reduce((sum, s) => sum + s.value, 0);
    await waitFor(() => total() === 3, '3 requests recorded');
    expect(find(telemeter.scrape(), REQUESTS).map((s) => [s.labels, s.value])).toEqual([
      [{ method: 'GET', route: '/users/:id', status: '200' }, 2],
      [{ method: 'GET', route: '<unmatched>', status: '404' }, 1],
    ]);
  };

  it('koaMiddleware', async () => {
    await run(async () => {
      const app = new Koa();
      const router = new Router();
      router.get('/users/:id', (ctx) => {
        ctx.body = 'user';
      });
      app.use(koaMiddleware());
      app.use(router.routes());
      const koaServer = createServer(app.callback());
      await listen(koaServer);
      return koaServer;
    });
  });

  it('honoMiddleware', async () => {
    await run(async () => {
      const app = new Hono();
      app.use(honoMiddleware());
      app.get('/users/:id', (c) => c.text('user'));
      const honoServer = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1', createServer });
      await once(honoServer, 'listening');
      return honoServer as Http2Server;
    });
  });
});
