/**
 * A real Prometheus 2.42 scrapes telemeter plus a prom-client registry (collectDefaultMetrics on, beside
 * telemeter's runtimeMetrics) on one path, in OpenMetrics (negotiated) and in 0.0.4 (`?format=text`): both
 * targets stay up, the user's prom-client metrics answer PromQL, and the shared runtime names hold one series.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attach, detach, type Metadata, Telemeter } from '../../src/index.js';
import { instrumentRuntime, type RuntimeInstrumentation, runtimeMetrics } from '../../src/runtime/index.js';
import { type MetricsServer, serveMetrics } from '../../src/server/index.js';
import { type ActiveTarget, type PrometheusHandle, startPrometheus } from '../support/prometheus-server.js';
import { requirePrometheus } from '../support/tools.js';

const hasPrometheus = requirePrometheus();
const JOBS = ['openmetrics', 'text'];

describe.skipIf(!hasPrometheus)('include scraped by a real Prometheus 2.42, in both formats', () => {
  let telemeter: Telemeter;
  let runtime: RuntimeInstrumentation;
  let server: MetricsServer;
  let prometheus: PrometheusHandle;
  let targets: ActiveTarget[];
  let byHand: Server;
  const stops: Metadata[] = [];

  beforeAll(async () => {
    telemeter = new Telemeter({ metrics: runtimeMetrics() });
    runtime = instrumentRuntime({ period: 1_000 });
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    new Counter({
      name: 'legacy_jobs_total',
      help: 'Jobs done, still counted by prom-client',
      labelNames: ['queue'],
      registers: [registry],
    }).inc({ queue: 'mail' }, 3);
    const latency = new Histogram({ name: 'legacy_latency_seconds', help: 'Latency', registers: [registry] });
    latency.observe(0.3);
    latency.observe(0.7);
    attach('include-prometheus-stops', 'telemeter.scrape.stop', (_name, _measurements, metadata) => {
      stops.push(metadata);
    });
    server = await serveMetrics(telemeter, { port: 0, host: '127.0.0.1', include: [registry] });
    const target = `127.0.0.1:${server.port}`;
    // What users do without include: both outputs concatenated by hand, in OpenMetrics (two # EOF).
    const handRegistry = new Registry();
    new Counter({ name: 'by_hand_total', help: 'h', registers: [handRegistry] }).inc();
    (handRegistry as unknown as { setContentType(type: string): void }).setContentType(
      Registry.OPENMETRICS_CONTENT_TYPE,
    );
    byHand = createServer(async (_req, res) => {
      const body = telemeter.scrape({ format: 'openmetrics' }) + (await handRegistry.metrics());
      res.writeHead(200, { 'Content-Type': Registry.OPENMETRICS_CONTENT_TYPE }).end(body);
    });
    byHand.listen(0, '127.0.0.1');
    await once(byHand, 'listening');
    prometheus = await startPrometheus([
      { jobName: 'openmetrics', targets: [target] },
      { jobName: 'text', targets: [target], params: { format: ['text'] } },
      { jobName: 'by-hand', targets: [`127.0.0.1:${(byHand.address() as AddressInfo).port}`] },
    ]);
    targets = await prometheus.waitForTargets();
  }, 60_000);

  afterAll(async () => {
    await prometheus?.stop();
    await server?.close();
    byHand?.close();
    try {
      detach('include-prometheus-stops');
    } catch {}
    runtime?.stop();
    telemeter?.close();
  });

  it('keeps both targets up with no scrape error', () => {
    for (const job of JOBS) {
      const target = targets.find((t) => t.labels.job === job);
      expect(target?.health, job).toBe('up');
      expect(target?.lastError, job).toBe('');
    }
  });

  it('marks the target down where the two outputs are concatenated by hand (the judge can fail)', () => {
    const target = targets.find((t) => t.labels.job === 'by-hand');
    expect(target?.health).toBe('down');
    expect(target?.lastError).toMatch(/EOF/);
  });

  it('negotiated OpenMetrics for one job and 0.0.4 for the other', () => {
    const formats = new Set(stops.filter((s) => s.status === 200).map((s) => s.format));
    expect(formats).toEqual(new Set(['openmetrics', 'text']));
  });

  it("answers PromQL with the user's prom-client metrics in both jobs", async () => {
    for (const job of JOBS) {
      await prometheus.waitForQuery(`up{job="${job}"}`, (r) => r.length === 1 && r[0].value[1] === '1');
      expect(await prometheus.queryValue(`legacy_jobs_total{job="${job}",queue="mail"}`)).toBe(3);
      expect(await prometheus.queryValue(`legacy_latency_seconds_count{job="${job}"}`)).toBe(2);
      expect(await prometheus.queryValue(`legacy_latency_seconds_bucket{job="${job}",le="0.5"}`)).toBe(1);
    }
  });

  it('holds one series per shared runtime name, and counts the families left out', async () => {
    for (const job of JOBS) {
      expect(await prometheus.queryValue(`count(process_cpu_seconds_total{job="${job}"})`)).toBe(1);
      expect(await prometheus.queryValue(`count(nodejs_heap_size_used_bytes{job="${job}"})`)).toBe(1);
      const conflicts = await prometheus.queryValue(`telemeter_include_conflicts{job="${job}",source="0"}`);
      expect(conflicts).toBeGreaterThan(20);
      expect(await prometheus.queryValue(`sum(telemeter_include_failures_total{job="${job}"})`)).toBe(0);
    }
  });

  it('logged no ingestion warnings (duplicate or out-of-order samples)', () => {
    expect(prometheus.logs()).not.toMatch(/level=(warn|error)/);
  });
});
