/**
 * A real Prometheus 2.42 scrapes serveMetrics: with a bearer token, with basic auth, with a forced
 * 0.0.4 format, and with a wrong token, all in one Prometheus run (its first scrape alone takes ~6 s).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attach, counter, detach, execute, lastValue, type Metadata, Telemeter } from '../../src/index.js';
import { type MetricsServer, serveMetrics } from '../../src/server/index.js';
import { type ActiveTarget, type PrometheusHandle, startPrometheus } from '../support/prometheus-server.js';
import { requirePrometheus } from '../support/tools.js';

const hasPrometheus = requirePrometheus();

const ORDERS = 7;
const CART_VALUE = 1234.5;

describe.skipIf(!hasPrometheus)('serveMetrics scraped by a real Prometheus 2.42', () => {
  let telemeter: Telemeter;
  let bearerServer: MetricsServer;
  let basicServer: MetricsServer;
  let prometheus: PrometheusHandle;
  let targets: ActiveTarget[];
  const stops: Metadata[] = [];

  beforeAll(async () => {
    telemeter = new Telemeter({
      metrics: [
        counter('shop.orders_total', {
          eventName: 'shop.order.stop',
          measurement: 'duration',
          tags: ['status'],
        }),
        lastValue('shop.cart.value', { eventName: 'shop.cart', measurement: 'value' }),
      ],
    });
    for (let i = 0; i < ORDERS; i++) execute('shop.order.stop', { duration: 1_000 }, { status: 'paid' });
    execute('shop.cart', { value: CART_VALUE }, {});
    attach('prometheus-test-stops', 'telemeter.scrape.stop', (_name, _measurements, metadata) => {
      stops.push(metadata);
    });
    bearerServer = await serveMetrics(telemeter, { port: 0, host: '127.0.0.1', auth: { bearer: 'b3arer' } });
    basicServer = await serveMetrics(telemeter, {
      port: 0,
      host: '127.0.0.1',
      auth: { basic: { username: 'prometheus', password: 'ba5ic' } },
    });
    const bearerTarget = `127.0.0.1:${bearerServer.port}`;
    prometheus = await startPrometheus([
      { jobName: 'bearer', targets: [bearerTarget], authorization: { credentials: 'b3arer' } },
      {
        jobName: 'basic',
        targets: [`127.0.0.1:${basicServer.port}`],
        basicAuth: { username: 'prometheus', password: 'ba5ic' },
      },
      {
        jobName: 'text',
        targets: [bearerTarget],
        authorization: { credentials: 'b3arer' },
        params: { format: ['text'] },
      },
      { jobName: 'wrong', targets: [bearerTarget], authorization: { credentials: 'not-the-token' } },
    ]);
    targets = await prometheus.waitForTargets();
  }, 60_000);

  afterAll(async () => {
    await prometheus?.stop();
    await bearerServer?.close();
    await basicServer?.close();
    try {
      detach('prometheus-test-stops');
    } catch {}
    telemeter?.close();
  });

  const target = (job: string) => targets.find((t) => t.labels.job === job)!;

  it('reports the bearer, basic and forced-text targets up with no error', () => {
    for (const job of ['bearer', 'basic', 'text']) {
      expect(target(job).health, job).toBe('up');
      expect(target(job).lastError, job).toBe('');
    }
  });

  it('reports the target scraped with a wrong token down with a 401', () => {
    expect(target('wrong').health).toBe('down');
    expect(target('wrong').lastError).toMatch(/401/);
  });

  it('negotiated OpenMetrics with gzip, and the text job got 0.0.4', () => {
    const ok = stops.filter((s) => s.status === 200);
    expect(ok.some((s) => s.format === 'openmetrics' && s.compressed === true)).toBe(true);
    expect(ok.some((s) => s.format === 'text' && s.compressed === true)).toBe(true);
    expect(stops.some((s) => s.status === 401)).toBe(true);
  });

  it('answers PromQL with the exact values recorded', async () => {
    for (const job of ['bearer', 'basic', 'text']) {
      await prometheus.waitForQuery(`up{job="${job}"}`, (r) => r.length === 1 && r[0].value[1] === '1');
      expect(await prometheus.queryValue(`shop_orders_total{job="${job}",status="paid"}`)).toBe(ORDERS);
      expect(await prometheus.queryValue(`shop_cart_value{job="${job}"}`)).toBe(CART_VALUE);
    }
    expect(await prometheus.queryValue('up{job="wrong"}')).toBe(0);
    // The server's own scrape counter, fed by its stop events, sees Prometheus's refused scrapes.
    const refused = await prometheus.waitForQuery(
      'telemeter_scrapes_total{job="bearer",status="401"}',
      (r) => r.length === 1 && Number(r[0].value[1]) >= 1,
    );
    expect(Number(refused[0].value[1])).toBeGreaterThanOrEqual(1);
  });

  it('parsed OpenMetrics metadata (UNIT) for the negotiated jobs only', async () => {
    const unitOf = async (job: string) =>
      ((await prometheus.metadata(job)) as Array<{ metric: string; unit: string }>).find(
        (m) => m.metric === 'telemeter_scrape_duration_seconds',
      )?.unit;
    expect(await unitOf('bearer')).toBe('seconds');
    expect(await unitOf('text')).toBe('');
  });

  it('logged no ingestion warnings', () => {
    expect(prometheus.logs()).not.toMatch(/level=(warn|error)/);
  });
});
