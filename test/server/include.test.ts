/**
 * The `include` option: prom-client registries and OpenTelemetry's Prometheus exporter served on telemeter's
 * endpoint as one exposition, judged by promtool (0.0.4) and the strict OpenMetrics parser; duplicates, failing
 * and slow sources, gzip, metricsHandler and option errors.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { counter, type LogFields, Telemeter } from '../../src/index.js';
import { instrumentRuntime, runtimeMetrics } from '../../src/runtime/index.js';
import { ExportedNameScanner, withoutEof } from '../../src/server/included-sources.js';
import {
  type MetricsServer,
  metricsHandler,
  type ServeMetricsOptions,
  serveMetrics,
} from '../../src/server/index.js';
import { parseOpenMetricsStrict } from '../support/openmetrics-parser.js';
import { checkMetrics } from '../support/promtool.js';
import { thrown } from '../support/thrown.js';
import { requirePromtool, requirePythonPrometheusClient } from '../support/tools.js';
import { type Reply, send } from './http-client.js';

const hasPromtool = requirePromtool();
const hasPython = requirePythonPrometheusClient();

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

interface LogLine {
  level: 'warn' | 'error';
  fields: LogFields;
  message: string;
}

/** A Telemeter whose log lines the test reads. */
function telemeterWith(metrics = [counter('shop.orders_total', { eventName: 'include.test.order' })]) {
  const logs: LogLine[] = [];
  const telemeter = new Telemeter({
    metrics,
    logger: {
      warn: (fields, message) => logs.push({ level: 'warn', fields, message }),
      error: (fields, message) => logs.push({ level: 'error', fields, message }),
    },
  });
  cleanups.push(() => telemeter.close());
  return { telemeter, logs };
}

async function start(telemeter: Telemeter, options: ServeMetricsOptions): Promise<MetricsServer> {
  const server = await serveMetrics(telemeter, { port: 0, host: '127.0.0.1', ...options });
  cleanups.push(() => server.close());
  return server;
}

const scrape = (server: MetricsServer, format: 'text' | 'openmetrics', headers = {}): Promise<Reply> =>
  send(`${server.url}?format=${format}`, { headers });

/** The prom-client setup of an application that is moving to telemeter: default metrics and its own. */
function promClientRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  new Counter({
    name: 'legacy_jobs_total',
    help: 'Jobs "done"',
    labelNames: ['queue'],
    registers: [registry],
  }).inc({ queue: 'mail' }, 3);
  new Histogram({ name: 'legacy_latency_seconds', help: 'Latency', registers: [registry] }).observe(0.3);
  return registry;
}

function sampleValue(body: string, sample: string): number | undefined {
  const line = body.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
}

function typeLines(body: string): string[] {
  return body.split('\n').filter((l) => l.startsWith('# TYPE '));
}

describe('include: prom-client with collectDefaultMetrics beside runtimeMetrics', () => {
  async function setup() {
    const { telemeter, logs } = telemeterWith(runtimeMetrics());
    const runtime = instrumentRuntime({ period: 60_000 });
    cleanups.push(() => runtime.stop());
    runtime.poller.poll();
    const registry = promClientRegistry();
    const server = await start(telemeter, { include: [registry] });
    return { telemeter, registry, server, logs };
  }

  it.skipIf(!hasPromtool)('gives 0.0.4 that promtool accepts, with each family once', async () => {
    const { telemeter, registry, server } = await setup();
    const reply = await scrape(server, 'text');
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    const result = await checkMetrics(reply.text);
    expect(result.error).toBeUndefined();
    // Lint only on names prom-client chose (telemeter keeps them so dashboards keep working).
    for (const line of result.lint) expect(line).toMatch(/^nodejs_active_\w+_total non-counter/);
    const types = typeLines(reply.text);
    expect(new Set(types).size).toBe(types.length);
    expect(reply.text).toContain('legacy_jobs_total{queue="mail"} 3\n');
    expect(reply.text).toContain('legacy_latency_seconds_count 1\n');

    // The judge can fail: the same two outputs concatenated by hand are refused.
    const byHand = (await checkMetrics(telemeter.scrape() + (await registry.metrics()))).error;
    expect(byHand).toMatch(/second HELP line|second TYPE line|duplicate/);
  });

  it.skipIf(!hasPython)('gives OpenMetrics that the strict parser accepts, with one # EOF', async () => {
    const { telemeter, registry, server } = await setup();
    const reply = await scrape(server, 'openmetrics');
    expect(reply.headers['content-type']).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    expect(reply.text.match(/^# EOF$/gm)).toHaveLength(1);
    expect(reply.text.endsWith('\n# EOF\n')).toBe(true);
    const parsed = await parseOpenMetricsStrict(reply.text);
    expect(parsed.error).toBeUndefined();
    const jobs = parsed.families?.find((f) => f.name === 'legacy_jobs');
    expect(jobs?.type).toBe('counter');
    expect(jobs?.samples[0]).toMatchObject({
      name: 'legacy_jobs_total',
      labels: { queue: 'mail' },
      value: 3,
    });

    // The judge can fail: telemeter's OpenMetrics and prom-client's, concatenated by hand.
    // prom-client types a registry's content type as fixed; switching it is what users do by hand.
    (registry as unknown as { setContentType(type: string): void }).setContentType(
      Registry.OPENMETRICS_CONTENT_TYPE,
    );
    const byHand = await parseOpenMetricsStrict(
      telemeter.scrape({ format: 'openmetrics' }) + (await registry.metrics()),
    );
    expect(byHand.ok).toBe(false);
  });

  it('keeps telemeter families, counts the left-out ones per scrape and logs each once', async () => {
    const { server, logs } = await setup();
    const text = (await scrape(server, 'text')).text;
    const om = (await scrape(server, 'openmetrics')).text;
    await scrape(server, 'text');
    const conflictLogs = logs.filter((l) => l.message.includes('left out'));
    expect(conflictLogs).toHaveLength(1);
    const families = conflictLogs[0].fields.families as string[];
    expect(families).toContain('process_cpu_seconds_total');
    expect(families).toContain('nodejs_gc_duration_seconds');
    expect(sampleValue(text, 'telemeter_include_conflicts{source="0"}')).toBe(families.length);
    expect(sampleValue(om, 'telemeter_include_conflicts{source="0"}')).toBe(families.length);
    // Telemeter's HELP wins: prom-client's own HELP text of a clashing family is nowhere.
    expect(text).not.toContain('Total user and system CPU time spent in seconds.');
    expect(text.match(/^# TYPE process_cpu_seconds_total counter$/gm)).toHaveLength(1);
  });
});

describe('include: the rule for duplicates', () => {
  it('keeps the first of two sources, in either format, and counts the second', async () => {
    const { telemeter } = telemeterWith();
    const first = new Registry();
    new Counter({ name: 'jobs_total', help: 'first', registers: [first] }).inc(1);
    // prom-client's types omit the constructor's content-type argument.
    const OpenMetricsRegistry = Registry as unknown as new (contentType: string) => Registry;
    const second = new OpenMetricsRegistry(Registry.OPENMETRICS_CONTENT_TYPE);
    new Counter({ name: 'jobs_total', help: 'from the other registry', registers: [second] }).inc(2);
    new Counter({ name: 'shop_orders_total', help: 'a twin of telemeter', registers: [second] }).inc(9);
    const server = await start(telemeter, { include: [first, second] });
    for (const format of ['text', 'openmetrics'] as const) {
      const body = (await scrape(server, format)).text;
      expect(body).toContain('jobs_total 1\n');
      expect(body).not.toContain('jobs_total 2\n');
      expect(body).not.toContain('from the other registry');
      expect(body).not.toContain('a twin of telemeter');
      expect(sampleValue(body, 'telemeter_include_conflicts{source="0"}')).toBe(0);
      expect(sampleValue(body, 'telemeter_include_conflicts{source="1"}')).toBe(2);
    }
  });

  it('compares exported names, so a telemeter counter beats a prom-client counter named with or without _total', async () => {
    const { telemeter } = telemeterWith([counter('shop.orders', { eventName: 'include.test.order' })]);
    const registry = new Registry();
    new Counter({ name: 'shop_orders_total', help: 'with', registers: [registry] }).inc(5);
    new Counter({ name: 'shop_orders', help: 'without', registers: [registry] }).inc(6);
    const server = await start(telemeter, { include: [registry] });
    for (const format of ['text', 'openmetrics'] as const) {
      const body = (await scrape(server, format)).text;
      expect(body).not.toMatch(/^shop_orders(_total)? [56]$/m);
      expect(sampleValue(body, 'telemeter_include_conflicts{source="0"}')).toBe(2);
    }
  });
});

describe('include: sources that fail', () => {
  const broken = {
    throws: {
      contentType: 'text/plain',
      metrics: (): string => {
        throw new Error('collector broke');
      },
    },
    rejects: { contentType: 'text/plain', metrics: () => Promise.reject(new Error('async collector broke')) },
    invalid: { contentType: 'text/plain', metrics: () => 'this is { not an exposition\n' },
  };

  it('skips a source that throws, rejects, or gives an unparsable body; counts each and logs when it starts failing', async () => {
    const { telemeter, logs } = telemeterWith();
    const healthy = new Registry();
    new Counter({ name: 'healthy_total', help: 'still served', registers: [healthy] }).inc(4);
    const server = await start(telemeter, {
      include: [broken.throws, broken.rejects, broken.invalid, healthy],
    });
    for (let i = 0; i < 2; i++) {
      const reply = await scrape(server, i === 0 ? 'text' : 'openmetrics');
      expect(reply.status).toBe(200);
      expect(reply.text).toContain('healthy_total 4\n');
      expect(reply.text).toContain('shop_orders');
    }
    const body = (await scrape(server, 'text')).text;
    expect(sampleValue(body, 'telemeter_include_failures_total{source="0",reason="error"}')).toBe(3);
    expect(sampleValue(body, 'telemeter_include_failures_total{source="1",reason="error"}')).toBe(3);
    expect(sampleValue(body, 'telemeter_include_failures_total{source="2",reason="invalid"}')).toBe(3);
    expect(sampleValue(body, 'telemeter_include_failures_total{source="3",reason="error"}')).toBe(0);
    const failureLogs = logs.filter((l) => l.message.includes('scrapes go on without'));
    expect(failureLogs.map((l) => l.fields.source)).toEqual([0, 1, 2]);
    expect(String((failureLogs[0].fields.err as Error).message)).toBe('collector broke');
  });

  it('skips a source slower than includeTimeout, and logs again only after it recovered', async () => {
    const { telemeter, logs } = telemeterWith();
    let slow = true;
    const source = {
      contentType: 'text/plain; version=0.0.4; charset=utf-8',
      metrics: () =>
        slow
          ? new Promise<string>((resolve) => setTimeout(() => resolve('late 1\n'), 5_000).unref())
          : 'prompt 1\n',
    };
    const server = await start(telemeter, { include: [source], includeTimeout: 20 });
    await scrape(server, 'text');
    const late = await scrape(server, 'openmetrics');
    expect(late.status).toBe(200);
    expect(late.text).not.toContain('late');
    expect(sampleValue(late.text, 'telemeter_include_failures_total{source="0",reason="timeout"}')).toBe(2);
    slow = false;
    expect((await scrape(server, 'text')).text).toContain('prompt 1\n');
    slow = true;
    await scrape(server, 'text');
    const messages = logs.map((l) => l.message);
    expect(messages.filter((m) => m.includes('includeTimeout (20 ms)'))).toHaveLength(2);
    expect(messages.filter((m) => m.includes('answers again'))).toHaveLength(1);
  });
});

describe('include: the endpoint stays the same', () => {
  it('gzips the merged body when asked', async () => {
    const { telemeter } = telemeterWith();
    const registry = new Registry();
    new Counter({ name: 'zipped_total', help: 'z', registers: [registry] }).inc();
    const server = await start(telemeter, { include: [registry] });
    const reply = await send(server.url, {
      headers: {
        Accept: 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5',
        'Accept-Encoding': 'gzip',
      },
    });
    expect(reply.headers['content-encoding']).toBe('gzip');
    expect(reply.headers['content-type']).toMatch(/^application\/openmetrics-text/);
    expect(reply.text).toContain('# TYPE zipped counter\n');
    expect(reply.text.match(/^# EOF$/gm)).toHaveLength(1);
  });

  it('works in metricsHandler, and leaves another endpoint of the same Telemeter without the sources', async () => {
    const { telemeter } = telemeterWith();
    const registry = new Registry();
    new Counter({ name: 'mounted_total', help: 'm', registers: [registry] }).inc();
    const withInclude = metricsHandler(telemeter, { include: [registry] });
    const without = metricsHandler(telemeter);
    const app = createServer((req, res) => (req.url?.startsWith('/a') ? withInclude : without)(req, res));
    app.listen(0, '127.0.0.1');
    await once(app, 'listening');
    cleanups.push(() => new Promise((resolve) => app.close(resolve)));
    const base = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
    const [a, b] = await Promise.all([send(`${base}/a`), send(`${base}/b`)]);
    expect(a.text).toContain('mounted_total 1\n');
    expect(b.text).not.toContain('mounted_total');
    expect(b.text).not.toContain('telemeter_include');
  });

  it('reads an OpenTelemetry PrometheusExporter through its request handler, in both formats', async () => {
    const { telemeter } = telemeterWith();
    const exporter = new PrometheusExporter({ preventServerStart: true });
    const provider = new MeterProvider({ readers: [exporter] });
    cleanups.push(() => provider.shutdown());
    provider.getMeter('shop').createCounter('checkout.count').add(4, { route: '/pay' });
    const server = await start(telemeter, { include: [exporter] });
    const text = (await scrape(server, 'text')).text;
    expect(text).toContain('# TYPE checkout_count_total counter\n');
    expect(text).toContain('checkout_count_total{route="/pay",otel_scope_name="shop"} 4\n');
    const om = (await scrape(server, 'openmetrics')).text;
    expect(om).toContain('# TYPE checkout_count counter\n');
    expect(om).toContain('checkout_count_total{route="/pay",otel_scope_name="shop"} 4\n');
    if (hasPython) expect((await parseOpenMetricsStrict(om)).error).toBeUndefined();
    if (hasPromtool) expect((await checkMetrics(text)).error).toBeUndefined();
  });

  it.each([
    [{ include: 'registry' }, /option include must be an array/],
    [{ include: [{}] }, /option include\[0\] must be a prom-client Registry/],
    [{ include: [{ metrics: () => '' }] }, /option include\[0\]/],
    [{ includeTimeout: 0 }, /option includeTimeout must be an integer from 1/],
  ])('refuses %o at start-up', (options, message) => {
    const { telemeter } = telemeterWith();
    const error = thrown(() => metricsHandler(telemeter, options as never));
    expect(error).toMatchObject({ code: 'ERR_TELEMETER_INVALID_OPTION' });
    expect((error as Error).message).toMatch(message);
  });
});

describe("include: reading telemeter's own output as it streams", () => {
  it("collects exported names from # TYPE lines split across chunks, and reserves each family's sample names", () => {
    const scanner = new ExportedNameScanner('text');
    scanner.scan('# HELP a_total x\n# TY');
    scanner.scan(
      'PE a_total counter\na_total 1\n# TYPE lat histogram\n# HELP g has # TYPE fake gauge inside\n',
    );
    scanner.scan('# TYPE g gauge');
    scanner.scan('\n');
    expect([...scanner.names].sort()).toEqual(
      ['a', 'a_created', 'a_total', 'g', 'lat', 'lat_bucket', 'lat_count', 'lat_created', 'lat_sum'].sort(),
    );
  });

  it('cuts only a final # EOF line', () => {
    expect(withoutEof('x 1\n# EOF\n')).toBe('x 1\n');
    expect(withoutEof('# EOF\n')).toBe('');
    expect(withoutEof('x 1\n# EOF')).toBe('x 1\n');
    expect(withoutEof('x{a="# EOF"} 1\n')).toBe('x{a="# EOF"} 1\n');
  });

  it('merges after a source that renders in many chunks and ends with # EOF in a chunk of its own', async () => {
    const registry = new Registry();
    new Counter({ name: 'after_total', help: 'a', registers: [registry] }).inc();
    const source = {
      *render({ format }: { format: 'text' | 'openmetrics' }) {
        const om = format === 'openmetrics';
        yield `# TYPE after ${om ? 'counter' : 'gauge'}\n`;
        yield om ? 'after_total 5\n' : 'after 5\n';
        if (om) yield '# EOF\n';
      },
    };
    const server = await serveMetrics(source, { port: 0, host: '127.0.0.1', include: [registry] });
    cleanups.push(() => server.close());
    const om = (await scrape(server, 'openmetrics')).text;
    expect(om.match(/^# EOF$/gm)).toHaveLength(1);
    expect(om).toContain('after_total 5\n');
    expect(om).not.toContain('after_total 1\n');
    if (hasPython) expect((await parseOpenMetricsStrict(om)).error).toBeUndefined();
  });
});
