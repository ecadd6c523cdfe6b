import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { attach, counter, detach, execute, type Metadata, Telemeter } from '../../src/index.js';
import {
  type MetricsServer,
  metricsHandler,
  type ServeMetricsOptions,
  serveMetrics,
} from '../../src/server/index.js';
import { exposureWarning } from '../../src/server/metrics-server.js';
import { thrown } from '../support/thrown.js';
import { isCI } from '../support/tools.js';
import { basicHeader, onHost, type Reply, send, until } from './http-client.js';
import { ControlledTelemeter, captureLogs } from './telemeters.js';

const OPENMETRICS = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
const TEXT = 'text/plain; version=0.0.4; charset=utf-8';
const PROMETHEUS_2_42 =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
const PROMETHEUS_3 =
  'application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** A server on loopback (127.0.0.1 unless `host` says otherwise), closed after the test. */
async function start(telemeter: Telemeter, options: ServeMetricsOptions = {}): Promise<MetricsServer> {
  const server = await serveMetrics(telemeter, { port: 0, host: '127.0.0.1', ...options });
  cleanups.push(() => server.close());
  return server;
}

function telemeter(): ControlledTelemeter {
  const t = new ControlledTelemeter();
  cleanups.push(() => t.close());
  execute('shop.order.stop', { duration: 1 }, { status: 'paid' });
  return t;
}

/** Records the metadata of every scrape stop event until the test ends. */
function recordStops(prefix = 'telemeter.scrape'): Metadata[] {
  const stops: Metadata[] = [];
  const id = `server-test-${Math.random()}`;
  attach(id, `${prefix}.stop`, (_name, measurements, metadata) => {
    stops.push({ ...metadata, measuredDuration: measurements.duration, measuredBytes: measurements.bytes });
  });
  cleanups.push(() => detach(id));
  return stops;
}

/** Counts scrape start events until the test ends. */
function countStarts(): { count: number } {
  const counter = { count: 0 };
  const id = `server-test-starts-${Math.random()}`;
  attach(id, 'telemeter.scrape.start', () => counter.count++);
  cleanups.push(() => detach(id));
  return counter;
}

describe('serveMetrics: routes and statuses', () => {
  it('serves the exposition on GET as Prometheus text 0.0.4 by default', async () => {
    const t = telemeter();
    const server = await start(t);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/metrics`);
    const expected = t.scrape();
    const reply = await send(server.url);
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe(TEXT);
    expect(reply.headers['content-encoding']).toBeUndefined();
    expect(reply.headers.vary).toBe('Accept, Accept-Encoding');
    expect(reply.headers['cache-control']).toBe('no-store');
    expect(reply.text).toBe(expected);
    expect(reply.text).toContain('shop_order_count_total{status="paid"} 1\n');
  });

  it('answers HEAD with the headers of a scrape and no body, without rendering', async () => {
    const t = telemeter();
    const server = await start(t);
    const reply = await send(server.url, { method: 'HEAD', headers: { accept: PROMETHEUS_2_42 } });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe(OPENMETRICS);
    expect(reply.raw.length).toBe(0);
    expect(t.renders).toBe(0);
  });

  it('answers other methods on the path with 405 and Allow', async () => {
    const server = await start(telemeter());
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
      const reply = await send(server.url, { method });
      expect(reply.status).toBe(405);
      expect(reply.headers.allow).toBe('GET, HEAD');
      expect(reply.text).toBe('Method Not Allowed\n');
    }
  });

  it('answers unknown paths with 404 and / with an index page that links to the metrics', async () => {
    const server = await start(telemeter(), { path: '/internal/metrics' });
    const base = `http://127.0.0.1:${server.port}`;
    for (const path of ['/metrics', '/internal/metrics/', '/internal', '/favicon.ico']) {
      const reply = await send(`${base}${path}`);
      expect(reply.status, path).toBe(404);
      expect(reply.text).toBe('Not Found\n');
    }
    expect((await send(`${base}/internal/metrics?format=text`)).status).toBe(200);
    const index = await send(`${base}/`);
    expect(index.status).toBe(200);
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(index.text).toContain('<a href="/internal/metrics">');
    expect((await send(`${base}/`, { method: 'POST' })).status).toBe(405);
  });

  it('serves mounted routes behind the same auth, lists them on the index, and survives their failures', async () => {
    const logs = captureLogs();
    cleanups.push(logs.restore);
    const server = await start(telemeter(), { auth: { bearer: 'tok' } });
    const auth = { authorization: 'Bearer tok' };
    const seen: string[] = [];
    server.mount(
      '/dashboard',
      (req, res) => {
        seen.push(req.url ?? '');
        res.end('dashboard');
      },
      { title: 'Live dashboard' },
    );
    server.mount('/broken', () => {
      throw new Error('secret detail');
    });
    server.mount('/broken-async', async () => {
      throw new Error('secret detail');
    });
    const base = `http://127.0.0.1:${server.port}`;
    expect((await send(`${base}/dashboard`)).status).toBe(401);
    expect((await send(`${base}/dashboard`, { headers: auth })).text).toBe('dashboard');
    expect((await send(`${base}/dashboard/data.json?x=1`, { headers: auth })).status).toBe(200);
    expect((await send(`${base}/dashboardx`, { headers: auth })).status).toBe(404);
    expect(seen).toEqual(['/dashboard', '/dashboard/data.json?x=1']);
    const index = await send(`${base}/`, { headers: auth });
    expect(index.text).toContain('<a href="/dashboard">Live dashboard</a>');
    for (const path of ['/broken', '/broken-async']) {
      const reply = await send(`${base}${path}`, { headers: auth });
      expect(reply.status).toBe(500);
      expect(reply.text).toBe('Internal Server Error\n');
    }
    expect(logs.errors).toHaveLength(2);
    expect((await send(server.url, { headers: auth })).status).toBe(200);
    expect(() => server.mount('/metrics', () => {})).toThrow(/already served/);
    expect(() => server.mount('/dashboard', () => {})).toThrow(/already served/);
    expect(() => server.mount('/', () => {})).toThrow(/mount path/);
    expect(() => server.mount('dashboard', () => {})).toThrow(/mount path/);
  });
});

describe('serveMetrics: authentication', () => {
  it('bearer: 401 with WWW-Authenticate without or with a wrong token, 200 with the right one', async () => {
    const server = await start(telemeter(), { auth: { bearer: 'sesame' } });
    const missing = await send(server.url);
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toBe('Bearer realm="metrics"');
    expect(missing.text).toBe('Unauthorized\n');
    for (const authorization of ['Bearer sesame2', 'Bearer sesam', 'Basic c2VzYW1lOnNlc2FtZQ==', 'sesame']) {
      const wrong = await send(server.url, { headers: { authorization } });
      expect(wrong.status, authorization).toBe(401);
      expect(wrong.headers['www-authenticate']).toBe('Bearer realm="metrics"');
    }
    const ok = await send(server.url, { headers: { authorization: 'Bearer sesame' } });
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('shop_order_count');
    // Without credentials nothing reveals which paths exist.
    const probe = await send(`http://127.0.0.1:${server.port}/nope`);
    expect(probe.status).toBe(401);
    expect((await send(`http://127.0.0.1:${server.port}/`)).status).toBe(401);
  });

  it('basic: 401 with a Basic challenge without or with wrong credentials, 200 with the right ones', async () => {
    const server = await start(telemeter(), { auth: { basic: { username: 'prometheus', password: 'pw' } } });
    const missing = await send(server.url);
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toBe('Basic realm="metrics", charset="UTF-8"');
    for (const [user, password] of [
      ['prometheus', 'pw2'],
      ['prometheus', ''],
      ['Prometheus', 'pw'],
      ['', 'pw'],
    ]) {
      const wrong = await send(server.url, { headers: { authorization: basicHeader(user, password) } });
      expect(wrong.status, `${user}:${password}`).toBe(401);
    }
    expect((await send(server.url, { headers: { authorization: 'Bearer pw' } })).status).toBe(401);
    const ok = await send(server.url, { headers: { authorization: basicHeader('prometheus', 'pw') } });
    expect(ok.status).toBe(200);
  });

  it('error answers reveal neither metrics nor configuration', async () => {
    const server = await start(telemeter(), {
      auth: { bearer: 'sesame', realm: 'metrics' },
      allow: ['127.0.0.0/8'],
      path: '/secret-path',
    });
    const replies = [
      await send(server.url),
      await send(server.url, { headers: { authorization: 'Bearer nope' } }),
      await send(`http://127.0.0.1:${server.port}/other`, { headers: { authorization: 'Bearer sesame' } }),
      await send(server.url, { method: 'POST', headers: { authorization: 'Bearer sesame' } }),
    ];
    expect(replies.map((r) => r.status)).toEqual([401, 401, 404, 405]);
    for (const reply of replies) {
      const everything = JSON.stringify(reply.headers) + reply.text;
      expect(everything).not.toMatch(/sesame|secret-path|shop_order|127\.0\.0\.0|telemeter/);
    }
  });
});

describe('serveMetrics: address allowlist', () => {
  /** A peer outside `allow` is closed as it is accepted: the request gets no answer at all. */
  const refused = (url: string) => expect(send(url)).rejects.toThrow(/ECONNRESET|EPIPE|socket hang up/);

  it("allow ['::1/128']: 200 from ::1, refused from 127.0.0.1 (IPv4-mapped, as a server on '::' sees it)", async () => {
    const options = { allow: ['::1/128'] };
    const v6 = await start(telemeter(), { ...options, host: '::1' });
    expect(v6.url).toBe(`http://[::1]:${v6.port}/metrics`);
    // '::ffff:127.0.0.1' is how a dual-stack socket on '::' sees an IPv4 peer, kept on loopback here.
    const mapped = await start(telemeter(), { ...options, host: '::ffff:127.0.0.1' });
    expect((await send(v6.url)).status).toBe(200);
    await refused(onHost(mapped.url, '127.0.0.1'));
    expect(mapped.refused.notAllowed).toBe(1);
  });

  it("allow ['127.0.0.0/8']: 200 from 127.0.0.1 and from IPv4-mapped peers, refused from ::1", async () => {
    const options = { allow: ['127.0.0.0/8'] };
    const v4 = await start(telemeter(), options);
    const mapped = await start(telemeter(), { ...options, host: '::ffff:127.0.0.1' });
    const v6 = await start(telemeter(), { ...options, host: '::1' });
    expect((await send(v4.url)).status).toBe(200);
    expect((await send(onHost(mapped.url, '127.0.0.1'))).status).toBe(200);
    await refused(v6.url);
    expect([v4.refused.notAllowed, mapped.refused.notAllowed, v6.refused.notAllowed]).toEqual([0, 0, 1]);
  });

  it('checks the address before credentials: refused even with the right token, 401 for a wrong one when allowed', async () => {
    const auth = { bearer: 'tok' };
    const blocked = await start(telemeter(), { auth, allow: ['10.0.0.0/8', 'fdaa::/16'] });
    const allowed = await start(telemeter(), { auth, allow: ['10.0.0.0/8', '127.0.0.1'] });
    await expect(send(blocked.url, { headers: { authorization: 'Bearer tok' } })).rejects.toThrow(
      /ECONNRESET|EPIPE|socket hang up/,
    );
    await refused(`http://127.0.0.1:${blocked.port}/`);
    expect((await send(allowed.url, { headers: { authorization: 'Bearer bad' } })).status).toBe(401);
    expect((await send(allowed.url, { headers: { authorization: 'Bearer tok' } })).status).toBe(200);
  });
});

describe('serveMetrics: negotiation and compression', () => {
  it.each([
    ['Prometheus 2.42', PROMETHEUS_2_42, OPENMETRICS],
    // Prometheus 3 asks for escaping=allow-utf-8: the answer names the scheme; the body is the same.
    ['Prometheus 3', PROMETHEUS_3, `${OPENMETRICS}; escaping=allow-utf-8`],
    ['curl', '*/*', TEXT],
    ['no Accept', undefined, TEXT],
  ])('%s gets the right format, labelled exactly', async (_name, accept, contentType) => {
    const t = telemeter();
    const server = await start(t);
    const format = contentType.startsWith(OPENMETRICS) ? 'openmetrics' : 'text';
    const expected = t.scrape({ format });
    const reply = await send(server.url, { headers: accept === undefined ? {} : { accept } });
    expect(reply.headers['content-type']).toBe(contentType);
    expect(reply.text).toBe(expected);
    expect(reply.text.endsWith('# EOF\n')).toBe(format === 'openmetrics');
  });

  it('?format= and the format option override Accept; an unknown ?format= is a 400', async () => {
    const t = telemeter();
    const negotiating = await start(t);
    const forced = await start(t, { format: 'text' });
    const headers = { accept: PROMETHEUS_2_42 };
    expect((await send(`${negotiating.url}?format=text`, { headers })).headers['content-type']).toBe(TEXT);
    expect((await send(`${negotiating.url}?format=openmetrics`)).headers['content-type']).toBe(OPENMETRICS);
    expect((await send(forced.url, { headers })).headers['content-type']).toBe(TEXT);
    expect((await send(`${forced.url}?format=openmetrics`, { headers })).headers['content-type']).toBe(
      OPENMETRICS,
    );
    const bad = await send(`${negotiating.url}?format=json`);
    expect(bad.status).toBe(400);
    expect(bad.text).toBe('Bad Request\n');
  });

  it('gzips when Accept-Encoding allows it, and the body decompresses to scrape()', async () => {
    const t = telemeter();
    const server = await start(t);
    // Each scrape counts itself in telemeter_scrapes_total after rendering: take scrape() just before.
    let expected = t.scrape({ format: 'openmetrics' });
    const zipped = await send(server.url, {
      headers: { accept: PROMETHEUS_2_42, 'accept-encoding': 'gzip' },
    });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.raw.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    expect(zipped.text).toBe(expected);
    expected = t.scrape();
    const plain = await send(server.url, { headers: { 'accept-encoding': 'br, deflate' } });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.text).toBe(expected);
    const off = await start(t, { compression: false });
    expected = t.scrape();
    const uncompressed = await send(off.url, { headers: { 'accept-encoding': 'gzip' } });
    expect(uncompressed.headers['content-encoding']).toBeUndefined();
    expect(uncompressed.text).toBe(expected);
  });

  it('streams a large exposition in chunks, gzipped or not, byte-identical to scrape()', async () => {
    const t = new Telemeter({
      metrics: [counter('big.count', { eventName: 'big.stop', measurement: 'duration', tags: ['id'] })],
      selfMetrics: false,
      maxSeries: 50_000,
    });
    cleanups.push(() => t.close());
    for (let i = 0; i < 20_000; i++) execute('big.stop', { duration: 1 }, { id: `item-${i}` });
    const expected = t.scrape();
    const chunks = [...t.render({ format: 'text' })];
    expect(chunks.length).toBeGreaterThan(5);
    const server = await start(t);
    const plain = await send(server.url);
    expect(plain.headers['transfer-encoding']).toBe('chunked');
    expect(plain.text).toBe(expected);
    const zipped = await send(server.url, { headers: { 'accept-encoding': 'gzip' } });
    expect(zipped.text).toBe(expected);
    expect(zipped.raw.length).toBeLessThan(expected.length / 5);
  });
});

describe('serveMetrics: under load', () => {
  it('coalesces concurrent scrapes of one format into one render, gzipped or not', async () => {
    const t = telemeter();
    const server = await start(t, { maxInFlight: 20 });
    const stops = recordStops();
    const starts = countStarts();
    t.hold();
    const scrapes: Array<Promise<Reply>> = [];
    for (let i = 0; i < 8; i++) {
      scrapes.push(send(server.url, { headers: i % 2 === 0 ? { 'accept-encoding': 'gzip' } : {} }));
    }
    await until('8 scrapes in flight', () => starts.count === 8);
    // The held render keeps yielding to the event loop: the server still answers other requests.
    expect((await send(`http://127.0.0.1:${server.port}/`)).status).toBe(200);
    t.release();
    const replies = await Promise.all(scrapes);
    expect(t.renders).toBe(1);
    expect(replies.map((r) => r.status)).toEqual(Array(8).fill(200));
    expect(new Set(replies.map((r) => r.text)).size).toBe(1);
    expect(replies.filter((r) => r.headers['content-encoding'] === 'gzip')).toHaveLength(4);
    expect(replies[0].text).toContain('shop_order_count_total{status="paid"} 1');
    expect(stops.filter((s) => s.status === 200)).toHaveLength(8);
    // A scrape after the shared render finished renders afresh.
    await send(server.url);
    expect(t.renders).toBe(2);
  });

  it('answers scrapes beyond maxInFlight with 503, and serves again once they finish', async () => {
    const t = telemeter();
    const server = await start(t, { maxInFlight: 2 });
    const stops = recordStops();
    const starts = countStarts();
    t.hold();
    const held = [send(server.url), send(server.url)];
    await until('2 scrapes in flight', () => starts.count === 2);
    const excess = await send(server.url);
    expect(excess.status).toBe(503);
    expect(excess.text).toBe('Service Unavailable\n');
    t.release();
    expect((await Promise.all(held)).map((r) => r.status)).toEqual([200, 200]);
    expect((await send(server.url)).status).toBe(200);
    expect(stops.map((s) => s.status)).toEqual([503, 200, 200, 200]);
  });

  it('frees the slot of a client that leaves mid-scrape and reports it as 499 client_closed', async () => {
    const t = telemeter();
    const server = await start(t, { maxInFlight: 1 });
    const stops = recordStops();
    const starts = countStarts();
    t.hold();
    const socket = connect(server.port, '127.0.0.1', () =>
      socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'),
    );
    socket.on('error', () => {});
    await until('scrape in flight', () => starts.count === 1);
    socket.destroy();
    await until('the server noticed', () => stops.length === 1);
    expect(stops[0]).toMatchObject({ status: 499, error: 'client_closed' });
    t.release();
    expect((await send(server.url)).status).toBe(200);
  });

  it('answers a render that throws with 503 and one log line, then serves the next scrape', async () => {
    const logs = captureLogs();
    cleanups.push(logs.restore);
    const t = telemeter();
    const server = await start(t);
    t.failNext = 1;
    const failed = await send(server.url, { headers: { 'accept-encoding': 'gzip' } });
    expect(failed.status).toBe(503);
    expect(failed.text).toBe('Service Unavailable\n');
    expect(JSON.stringify(failed.headers) + failed.text).not.toMatch(/shop_order|cannot render/);
    expect(logs.errors).toHaveLength(1);
    expect(logs.errors[0]).toMatch(/render/);
    const next = await send(server.url);
    expect(next.status).toBe(200);
    expect(next.text).toContain('telemeter_scrapes_total{status="503"} 1');
    expect(logs.errors).toHaveLength(1);
  });
});

describe('serveMetrics: scrape events', () => {
  it('emits start and stop for every answer on the path, with status, format, bytes and compressed', async () => {
    const t = telemeter();
    const server = await start(t, { auth: { bearer: 'tok' } });
    const stops = recordStops();
    const auth = { authorization: 'Bearer tok' };
    const zipped = await send(server.url, {
      headers: { ...auth, accept: PROMETHEUS_2_42, 'accept-encoding': 'gzip' },
    });
    const plain = await send(server.url, { headers: auth });
    const denied = await send(server.url);
    await send(`http://127.0.0.1:${server.port}/elsewhere`, { headers: auth });
    expect(stops).toHaveLength(3);
    expect(stops[0]).toMatchObject({ method: 'GET', status: 200, format: 'openmetrics', compressed: true });
    expect(stops[0].bytes).toBe(zipped.raw.length);
    expect(stops[0].measuredBytes).toBe(zipped.raw.length);
    expect(stops[1]).toMatchObject({
      status: 200,
      format: 'text',
      compressed: false,
      bytes: plain.raw.length,
    });
    expect(stops[2]).toMatchObject({ status: 401, compressed: false, bytes: denied.raw.length });
    for (const stop of stops) {
      expect(Number.isInteger(stop.measuredDuration)).toBe(true);
      expect(stop.measuredDuration as number).toBeGreaterThan(0);
    }
  });

  it('feeds telemeter_scrapes_total{status} and the scrape duration histogram', async () => {
    const t = telemeter();
    const server = await start(t, { auth: { bearer: 'tok' } });
    const auth = { authorization: 'Bearer tok' };
    const first = await send(server.url, { headers: auth });
    expect(first.text).not.toContain('telemeter_scrapes_total{status="200"}');
    await send(server.url);
    const second = await send(server.url, { headers: auth });
    expect(second.text).toContain('telemeter_scrapes_total{status="200"} 1\n');
    expect(second.text).toContain('telemeter_scrapes_total{status="401"} 1\n');
    expect(second.text).toContain('telemeter_scrape_duration_seconds_count 2\n');
    const third = await send(server.url, { headers: auth });
    expect(third.text).toContain('telemeter_scrapes_total{status="200"} 2\n');
  });

  it('uses eventPrefix for its events', async () => {
    const t = telemeter();
    const server = await start(t, { eventPrefix: 'ops.metrics_scrape' });
    const stops = recordStops('ops.metrics_scrape');
    const defaults = recordStops();
    await send(server.url);
    expect(stops).toHaveLength(1);
    expect(defaults).toHaveLength(0);
  });
});

describe('logging', () => {
  it("logs through the source's own logger when it has one, never the process-wide one", async () => {
    const processLogs = captureLogs();
    cleanups.push(processLogs.restore);
    const own: string[] = [];
    const logger = {
      warn: (_fields: object, message: string) => own.push(`warn ${message}`),
      error: (_fields: object, message: string) => own.push(`error ${message}`),
    };
    const t = new Telemeter({
      metrics: [counter('logged.count', { eventName: 'logged.stop', measurement: 'n' })],
      logger,
    });
    cleanups.push(() => t.close());
    const failing = {
      render(): Iterable<string> {
        throw new Error('cannot render');
      },
      logger,
    };
    const server = await start(t);
    server.mount('/broken', () => {
      throw new Error('mounted handler failed');
    });
    expect((await send(`http://127.0.0.1:${server.port}/broken`)).status).toBe(500);
    const other = await start(failing as unknown as Telemeter);
    expect((await send(other.url)).status).toBe(503);
    const handler = metricsHandler(failing as unknown as Telemeter);
    const app = createHttpServer((req, res) => handler(req, res));
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => app.close(resolve)));
    expect((await send(`http://127.0.0.1:${(app.address() as { port: number }).port}/metrics`)).status).toBe(
      503,
    );

    expect(own).toEqual([
      'error telemeter/server: the handler mounted at /broken failed',
      'error telemeter/server: rendering text metrics failed; the scrape gets 503',
      'error telemeter/server: rendering text metrics failed; the scrape gets 503',
    ]);
    expect(processLogs.errors).toEqual([]);
    expect(processLogs.warnings).toEqual([]);
  });
});

describe('serveMetrics: lifecycle and protection', () => {
  it('close() lets a scrape in flight finish, then releases the port', async () => {
    const t = telemeter();
    const server = await serveMetrics(t, { port: 0, host: '127.0.0.1' });
    const starts = countStarts();
    t.hold();
    const inFlight = send(server.url);
    await until('scrape in flight', () => starts.count === 1);
    let closed = false;
    const closing = server.close().then(() => {
      closed = true;
    });
    // Positive signal that close() has begun: the port refuses new connections. The held scrape keeps its
    // connection, and close() cannot resolve before that connection ends.
    await expect(send(server.url, { timeoutMs: 2_000 })).rejects.toThrow(/ECONNREFUSED/);
    expect(closed).toBe(false);
    expect(
      await new Promise((resolve) => server.server.getConnections((_error, count) => resolve(count))),
    ).toBe(1);
    t.release();
    const reply = await inFlight;
    expect(reply.status).toBe(200);
    expect(reply.text).toContain('shop_order_count');
    await closing;
    expect(closed).toBe(true);
    await expect(send(server.url, { timeoutMs: 2_000 })).rejects.toThrow(/ECONNREFUSED/);
    // The same port can be bound again at once.
    const again = await serveMetrics(t, { port: server.port, host: '127.0.0.1' });
    await again.close();
    await server.close();
  });

  it('close() cuts a scrape that outlives closeTimeout', async () => {
    const t = telemeter();
    const server = await serveMetrics(t, { port: 0, host: '127.0.0.1', closeTimeout: 50 });
    const starts = countStarts();
    t.hold();
    cleanups.push(() => t.release());
    const inFlight = send(server.url).then(
      () => 'answered',
      () => 'cut',
    );
    await until('scrape in flight', () => starts.count === 1);
    await server.close();
    expect(await inFlight).toBe('cut');
  });

  it('applies the slow-client timeouts: a client that never finishes its headers gets 408 and is closed', async () => {
    const server = await start(telemeter(), {
      headersTimeout: 200,
      requestTimeout: 300,
      keepAliveTimeout: 1_000,
      idleTimeout: 2_000,
    });
    expect(server.server.headersTimeout).toBe(200);
    expect(server.server.requestTimeout).toBe(300);
    expect(server.server.keepAliveTimeout).toBe(1_000);
    expect(server.server.timeout).toBe(2_000);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(server.port, '127.0.0.1', () =>
        socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n'),
      );
      let data = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk) => {
        data += chunk;
      });
      socket.on('close', () => resolve(data));
      socket.on('error', reject);
      setTimeout(() => {
        socket.destroy();
        reject(new Error('the server kept a slow client open for 10 s'));
      }, 10_000).unref();
    });
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
  });

  it('serves HTTPS with tls: { key, cert }', async (ctx) => {
    const hasOpenssl = (() => {
      try {
        execFileSync('openssl', ['version'], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    })();
    if (!hasOpenssl) {
      if (isCI()) throw new Error('openssl is required for the TLS test (apt-get install -y openssl)');
      ctx.skip();
    }
    const dir = mkdtempSync(join(tmpdir(), 'telemeter-tls-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    const key = readFileSync(join(dir, 'key.pem'), 'utf8');
    const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
    const server = await start(telemeter(), { tls: { key, cert }, auth: { bearer: 'tok' } });
    expect(server.url).toBe(`https://127.0.0.1:${server.port}/metrics`);
    const reply = await send(server.url, { ca: cert, headers: { authorization: 'Bearer tok' } });
    expect(reply.status).toBe(200);
    expect(reply.text).toContain('shop_order_count');
    await expect(send(server.url)).rejects.toThrow(/self[- ]signed|certificate/i);
    await expect(send(server.url.replace('https:', 'http:'))).rejects.toThrow();
    // A peer outside allow is closed before the TLS handshake: not one byte of it is sent.
    const fenced = await start(telemeter(), { tls: { key, cert }, allow: ['10.0.0.0/8'] });
    const received = await new Promise<number>((resolve, reject) => {
      let bytes = 0;
      const socket = connect(fenced.port, '127.0.0.1', () => socket.write(Buffer.from([0x16, 0x03, 0x01])));
      socket.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      socket.on('error', () => {});
      socket.on('close', () => resolve(bytes));
      socket.setTimeout(10_000, () => reject(new Error('the server kept the connection open')));
    });
    expect(received).toBe(0);
    expect(fenced.refused.notAllowed).toBe(1);
  });

  it('warns once at start-up only when metrics are open on a non-loopback address', async () => {
    const logs = captureLogs();
    cleanups.push(logs.restore);
    await start(telemeter());
    await start(telemeter(), { host: '::1' });
    expect(logs.warnings).toEqual([]);
    expect(exposureWarning('::', 9091, undefined, undefined)).toMatch(/:: port 9091 without auth or allow/);
    expect(exposureWarning('0.0.0.0', 9091, undefined, undefined)).toMatch(/0\.0\.0\.0/);
    expect(exposureWarning('10.0.0.5', 9091, undefined, undefined)).toBeDefined();
    expect(exposureWarning('::', 9091, {}, undefined)).toBeUndefined();
    expect(exposureWarning('::', 9091, undefined, {})).toBeUndefined();
    expect(exposureWarning('127.0.0.1', 9091, undefined, undefined)).toBeUndefined();
    expect(exposureWarning('::ffff:127.0.0.1', 9091, undefined, undefined)).toBeUndefined();
  });

  it('rejects when the port is taken, naming it', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => blocker.close(resolve)));
    const port = (blocker.address() as { port: number }).port;
    const failure = serveMetrics(telemeter(), { port, host: '127.0.0.1' });
    await expect(failure).rejects.toThrow(new RegExp(`cannot listen on 127.0.0.1 port ${port}: EADDRINUSE`));
    await expect(failure).rejects.toMatchObject({
      code: 'ERR_TELEMETER_LISTEN',
      cause: { code: 'EADDRINUSE' },
    });
  });

  it.each([
    [{ port: 70_000 }, /option port must be an integer from 0 to 65535, got 70000/],
    [{ port: -1 }, /option port/],
    [{ port: '9091' }, /option port/],
    [{ host: '' }, /option host/],
    [{ path: 'metrics' }, /option path must start with '\/'/],
    [{ path: '/' }, /option path/],
    [{ path: '/metrics?x=1' }, /option path/],
    [{ auth: { bearer: '' } }, /option auth.bearer must be a non-empty string/],
    [{ auth: { bearer: undefined } }, /option auth.bearer/],
    [{ auth: { basic: { username: 'u', password: '' } } }, /option auth.basic.password/],
    [{ allow: ['10.0.0.0/33'] }, /option allow\[0\]/],
    [{ allow: ['fdaa::/16', '1.2.3'] }, /option allow\[1\]/],
    [{ allow: [] }, /option allow/],
    [{ maxInFlight: 0 }, /option maxInFlight/],
    [{ format: 'json' }, /option format must be 'negotiate', 'text', 'openmetrics' or 'protobuf'/],
    [{ compression: 'gzip' }, /option compression must be a boolean/],
    [{ eventPrefix: 'a..b' }, /eventPrefix/],
    [{ tls: { key: 'k' } }, /option tls must give key and cert/],
    [{ headersTimeout: 40_000 }, /option headersTimeout \(40000\) must not exceed requestTimeout \(30000\)/],
    [{ keepAliveTimeout: 0 }, /option keepAliveTimeout/],
    [{ maxConnections: 0 }, /option maxConnections must be an integer from 1 to 65535, got 0/],
    [{ maxConnections: 'x' }, /option maxConnections must be an integer from 1 to 65535, got "x"/],
    [{ maxConnections: 65_536 }, /option maxConnections/],
    [{ allow: ['fe80::1%eth0'] }, /option allow\[0\] must not name an IPv6 zone/],
    [{ auth: { bearer: 'tok\n' } }, /option auth.bearer must not contain spaces or control characters/],
  ])('rejects %j at start-up, naming the option', async (options, message) => {
    const error = thrown(() => serveMetrics(telemeter(), options as ServeMetricsOptions));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.code).toBe('ERR_TELEMETER_INVALID_OPTION');
    expect(error.message).toMatch(message);
  });

  it.each([
    [{ token: 'x' }, /serveMetrics: option token is unknown/],
    [{ maxConection: 5 }, /serveMetrics: option maxConection is unknown \(did you mean maxConnections\?/],
    [{ headerTimeout: 5 }, /did you mean headersTimeout\?/],
    [{ auth: { bearer: 'x', relm: 'r' } }, /option auth.relm is unknown \(did you mean auth.realm\?/],
    [{ auth: { basic: { user: 'u', password: 'p' } } }, /option auth.basic.user is unknown/],
  ])('rejects the unknown key of %j, suggesting the closest', (options, message) => {
    const error = thrown(() => serveMetrics(telemeter(), options as ServeMetricsOptions));
    expect(error.code).toBe('ERR_TELEMETER_UNKNOWN_OPTION');
    expect(error.message).toMatch(message);
  });

  it('takes tls as node:https options, unchecked key by key', () => {
    const error = thrown(() =>
      serveMetrics(telemeter(), { tls: { key: 'k', cert: 'c', sessionTimeout: 1 } as never, port: -1 }),
    );
    expect(error.message).toMatch(/option port/);
  });

  it('rejects something that is not a Telemeter, or a render source with a broken logger', () => {
    for (const source of [{}, null, { render: () => [], logger: { warn: () => {} } }]) {
      const error = thrown(() => serveMetrics(source as never));
      expect(error.code).toBe('ERR_TELEMETER_INVALID_ARGUMENT');
      expect(error.message).toMatch(/serveMetrics/);
    }
  });

  it('rejects a bad mount with codes: the path and handler as arguments, the options as options', async () => {
    const server = await start(telemeter());
    expect(thrown(() => server.mount('dashboard', () => {})).code).toBe('ERR_TELEMETER_INVALID_ARGUMENT');
    expect(thrown(() => server.mount('/metrics', () => {})).code).toBe('ERR_TELEMETER_INVALID_ARGUMENT');
    expect(thrown(() => server.mount('/x', 'handler' as never)).code).toBe('ERR_TELEMETER_INVALID_ARGUMENT');
    const unknown = thrown(() => server.mount('/x', () => {}, { titel: 'X' } as never));
    expect(unknown.code).toBe('ERR_TELEMETER_UNKNOWN_OPTION');
    expect(unknown.message).toMatch(/mount \/x: option titel is unknown \(did you mean title\?/);
    expect(thrown(() => server.mount('/x', () => {}, { title: 42 } as never)).code).toBe(
      'ERR_TELEMETER_INVALID_OPTION',
    );
  });
});
