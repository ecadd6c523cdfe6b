/**
 * metricsFetchHandler on Node.js, called with `Request` objects: the rules of the Node endpoint (negotiation,
 * `?format=`, auth, methods, gzip, in-flight limit, scrape self-metrics) on a fetch Response, and the body judged
 * by the strict OpenMetrics parser and promtool. Bun, Deno and workerd serve it for real in test/runtimes/.
 */
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execute } from '../../src/index.js';
import { metricsFetchHandler } from '../../src/server/index.js';
import { parseOpenMetricsStrict } from '../support/openmetrics-parser.js';
import { checkMetrics } from '../support/promtool.js';
import { requirePromtool, requirePythonPrometheusClient } from '../support/tools.js';
import { ControlledTelemeter, captureLogs } from './telemeters.js';

const hasPromtool = requirePromtool();
const hasParser = requirePythonPrometheusClient();
const PROMETHEUS_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

let telemeter: ControlledTelemeter;
beforeEach(() => {
  telemeter = new ControlledTelemeter();
  execute('shop.order.stop', { duration: 5 }, { status: 'paid' });
});
afterEach(() => telemeter.close());

const get = (path = '/metrics', headers: Record<string, string> = {}, method = 'GET') =>
  new Request(`http://localhost${path}`, { method, headers });

describe('metricsFetchHandler', () => {
  it('negotiates OpenMetrics for Prometheus and text otherwise, with a length and no caching', async () => {
    const metrics = metricsFetchHandler(telemeter);
    const om = await metrics(get('/metrics', { accept: PROMETHEUS_ACCEPT }));
    expect(om.status).toBe(200);
    expect(om.headers.get('content-type')).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    expect(om.headers.get('cache-control')).toBe('no-store');
    expect(om.headers.get('vary')).toBe('Accept, Accept-Encoding');
    const omBody = await om.text();
    expect(Number(om.headers.get('content-length'))).toBe(Buffer.byteLength(omBody));
    expect(omBody).toMatch(/^shop_order_count_total\{status="paid"\} 1$/m);
    expect(omBody.endsWith('# EOF\n')).toBe(true);
    const text = await metrics(get());
    expect(text.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(await text.text()).not.toContain('# EOF');
    const forced = await metrics(get('/metrics?format=openmetrics'));
    expect(await forced.text()).toContain('# EOF');
  });

  it.skipIf(!hasParser)('renders OpenMetrics that the strict parser accepts', async () => {
    const body = await (await metricsFetchHandler(telemeter)(get('/metrics?format=openmetrics'))).text();
    const parsed = await parseOpenMetricsStrict(body);
    expect(parsed.ok, parsed.error).toBe(true);
  });

  it.skipIf(!hasPromtool)('renders text that promtool accepts', async () => {
    const body = await (await metricsFetchHandler(telemeter)(get())).text();
    const checked = await checkMetrics(body);
    expect(checked.code, checked.stderr).toBe(0);
  });

  it('gzips when Accept-Encoding allows it', async () => {
    const response = await metricsFetchHandler(telemeter)(get('/metrics', { 'accept-encoding': 'gzip' }));
    expect(response.headers.get('content-encoding')).toBe('gzip');
    const bytes = Buffer.from(await response.arrayBuffer());
    expect(Number(response.headers.get('content-length'))).toBe(bytes.length);
    expect(gunzipSync(bytes).toString()).toMatch(/^shop_order_count_total\{status="paid"\} 1$/m);
    const plain = await metricsFetchHandler(telemeter, { compression: false })(
      get('/metrics', { 'accept-encoding': 'gzip' }),
    );
    expect(plain.headers.get('content-encoding')).toBeNull();
  });

  it('answers 405 to other methods, 400 to an unknown format, and HEAD with headers only', async () => {
    const metrics = metricsFetchHandler(telemeter);
    const post = await metrics(get('/metrics', {}, 'POST'));
    expect([post.status, post.headers.get('allow'), await post.text()]).toEqual([
      405,
      'GET, HEAD',
      'Method Not Allowed\n',
    ]);
    const bad = await metrics(get('/metrics?format=json'));
    expect([bad.status, await bad.text()]).toEqual([400, 'Bad Request\n']);
    const head = await metrics(get('/metrics', {}, 'HEAD'));
    expect([head.status, head.headers.get('content-type'), await head.text()]).toEqual([
      200,
      'text/plain; version=0.0.4; charset=utf-8',
      '',
    ]);
  });

  it('asks for credentials, naming each accepted scheme, and accepts bearer and basic ones', async () => {
    const metrics = metricsFetchHandler(telemeter, {
      auth: { bearer: 's3cret-token', basic: { username: 'prom', password: 'pw' } },
    });
    const refused = await metrics(get('/metrics', { authorization: 'Bearer wrong' }));
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe(
      'Bearer realm="metrics", Basic realm="metrics", charset="UTF-8"',
    );
    expect(await refused.text()).toBe('Unauthorized\n');
    expect((await metrics(get('/metrics', { authorization: 'Bearer s3cret-token' }))).status).toBe(200);
    const basic = `Basic ${Buffer.from('prom:pw').toString('base64')}`;
    expect((await metrics(get('/metrics', { authorization: basic }))).status).toBe(200);
  });

  it('answers 503 beyond maxInFlight, and 503 when the render fails, without the error text', async () => {
    const metrics = metricsFetchHandler(telemeter, { maxInFlight: 1 });
    telemeter.hold();
    const first = metrics(get());
    await new Promise((resolve) => setTimeout(resolve, 20));
    const second = await metrics(get());
    expect(second.status).toBe(503);
    telemeter.release();
    expect((await first).status).toBe(200);
    const logs = captureLogs();
    try {
      telemeter.failNext = 1;
      const failed = await metrics(get());
      expect([failed.status, await failed.text()]).toEqual([503, 'Service Unavailable\n']);
      expect(logs.errors.join('\n')).toMatch(/rendering text metrics failed/);
    } finally {
      logs.restore();
    }
  });

  it('counts its scrapes in telemeter_scrapes_total by status', async () => {
    const metrics = metricsFetchHandler(telemeter);
    await metrics(get());
    await metrics(get('/metrics', {}, 'POST'));
    const body = await (await metrics(get())).text();
    expect(body).toMatch(/^telemeter_scrapes_total\{status="200"\} 1$/m);
    expect(body).toMatch(/^telemeter_scrapes_total\{status="405"\} 1$/m);
  });

  it('refuses allow, which a Request cannot honour, and other unknown options', () => {
    expect(() => metricsFetchHandler(telemeter, { allow: ['10.0.0.0/8'] } as never)).toThrow(
      expect.objectContaining({
        code: 'ERR_TELEMETER_INVALID_OPTION',
        message: expect.stringMatching(/allow/),
      }),
    );
    expect(() => metricsFetchHandler(telemeter, { port: 9091 } as never)).toThrow(
      expect.objectContaining({ code: 'ERR_TELEMETER_UNKNOWN_OPTION' }),
    );
    expect(() => metricsFetchHandler({} as never)).toThrow(
      expect.objectContaining({ code: 'ERR_TELEMETER_INVALID_ARGUMENT' }),
    );
  });
});
