/**
 * The protobuf exposition through the real endpoint: negotiation, the Content-Type, gzip, `?format=protobuf`,
 * endpoints that can only send text, `createdSamples`, and the scrape events. Bodies are decoded by protobufjs.
 */
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { attach, counter, detach, distribution, execute, type Metadata, Telemeter } from '../../src/index.js';
import {
  type MetricsServer,
  metricsFetchHandler,
  type ServeMetricsOptions,
  serveMetrics,
} from '../../src/server/index.js';
import { decodeFamilies } from '../support/protobuf-exposition.js';
import { send } from './http-client.js';

const PROTOBUF_TYPE =
  'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited';
const PROMETHEUS_2_42_NATIVE =
  'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
const PROMETHEUS_2_42 =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

function telemeter(): Telemeter {
  const t = new Telemeter({
    metrics: [
      counter('pbs.orders.count', { eventName: 'pbs.order', measurement: 'n', tags: ['status'] }),
      distribution('pbs.latency', {
        eventName: 'pbs.request',
        measurement: 'v',
        reporterOptions: { buckets: [1, 10] },
      }),
    ],
    selfMetrics: false,
  });
  cleanups.push(() => t.close());
  execute('pbs.order', { n: 1 }, { status: 'paid' });
  execute('pbs.request', { v: 5 });
  return t;
}

async function start(t: Telemeter, options: ServeMetricsOptions = {}): Promise<MetricsServer> {
  const server = await serveMetrics(t, { port: 0, host: '127.0.0.1', ...options });
  cleanups.push(() => server.close());
  return server;
}

function recordStops(): Metadata[] {
  const stops: Metadata[] = [];
  const id = `protobuf-server-test-${Math.random()}`;
  attach(id, 'telemeter.scrape.stop', (_name, _measurements, metadata) => stops.push({ ...metadata }));
  cleanups.push(() => detach(id));
  return stops;
}

describe('the endpoint in protobuf', () => {
  it('answers a Prometheus that asks for protobuf first with the encoded families, labelled so', async () => {
    const t = telemeter();
    const server = await start(t);
    const stops = recordStops();
    const reply = await send(server.url, { headers: { Accept: PROMETHEUS_2_42_NATIVE } });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe(PROTOBUF_TYPE);
    expect(reply.headers.vary).toBe('Accept, Accept-Encoding');
    expect(reply.raw).toEqual(Buffer.concat([...t.renderProtobuf()]));
    expect(decodeFamilies(reply.raw).map((f) => f.name)).toEqual(['pbs_orders_count_total', 'pbs_latency']);
    expect(stops.at(-1)).toMatchObject({ status: 200, format: 'protobuf', bytes: reply.raw.length });
  });

  it('gzips it when Accept-Encoding allows', async () => {
    const t = telemeter();
    const server = await start(t);
    const reply = await send(server.url, {
      headers: { Accept: PROMETHEUS_2_42_NATIVE, 'Accept-Encoding': 'gzip' },
    });
    expect(reply.headers['content-encoding']).toBe('gzip');
    expect(reply.headers['content-type']).toBe(PROTOBUF_TYPE);
    expect(gunzipSync(reply.raw)).toEqual(Buffer.concat([...t.renderProtobuf()]));
  });

  it('leaves the text bodies byte for byte as they were for scrapers that do not ask for protobuf', async () => {
    const t = telemeter();
    const server = await start(t);
    const om = await send(server.url, { headers: { Accept: PROMETHEUS_2_42 } });
    expect(om.text).toBe(t.scrape({ format: 'openmetrics' }));
    const text = await send(server.url, { headers: { Accept: 'text/plain;version=0.0.4;q=1,*/*;q=0.1' } });
    expect(text.text).toBe(t.scrape());
    const curl = await send(server.url, { headers: { Accept: '*/*' } });
    expect(curl.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
  });

  it('is forced by ?format=protobuf and by the format option', async () => {
    const t = telemeter();
    const forced = await start(t);
    const reply = await send(`${forced.url}?format=protobuf`, { headers: { Accept: 'text/plain' } });
    expect(reply.headers['content-type']).toBe(PROTOBUF_TYPE);
    const always = await start(t, { format: 'protobuf' });
    expect((await send(always.url)).headers['content-type']).toBe(PROTOBUF_TYPE);
    expect((await send(`${always.url}?format=text`)).text).toBe(t.scrape());
  });

  it('is never sent by an endpoint that includes other libraries (their expositions are text)', async () => {
    const t = telemeter();
    const registry = {
      contentType: 'text/plain; version=0.0.4; charset=utf-8',
      metrics: () => '# TYPE other gauge\nother 1\n',
    };
    const server = await start(t, { include: [registry] });
    const negotiated = await send(server.url, { headers: { Accept: PROMETHEUS_2_42_NATIVE } });
    expect(negotiated.headers['content-type']).toBe(
      'application/openmetrics-text; version=1.0.0; charset=utf-8',
    );
    expect(negotiated.text).toContain('other 1');
    const forced = await send(`${server.url}?format=protobuf`);
    expect(forced.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
  });

  it('adds OpenMetrics _created samples with createdSamples, and only there', async () => {
    const t = telemeter();
    const server = await start(t, { createdSamples: true });
    const plain = await start(t);
    const om = await send(server.url, { headers: { Accept: PROMETHEUS_2_42 } });
    expect(om.text).toBe(t.scrape({ format: 'openmetrics', createdSamples: true }));
    expect(om.text).toMatch(/^pbs_orders_count_created\{status="paid"\} \d+\.?\d*$/m);
    expect((await send(plain.url, { headers: { Accept: PROMETHEUS_2_42 } })).text).not.toContain('_created');
    expect((await send(server.url)).text).toBe(t.scrape());
    await expect(start(t, { createdSamples: 'yes' as unknown as boolean })).rejects.toThrow(
      /option createdSamples must be a boolean/,
    );
  });

  it('is sent by metricsFetchHandler too: negotiated, gzipped, forced, and never with include', async () => {
    const t = telemeter();
    const handler = metricsFetchHandler(t);
    const stops = recordStops();
    const proto = await handler(
      new Request('http://x/metrics', { headers: { accept: PROMETHEUS_2_42_NATIVE } }),
    );
    expect(proto.headers.get('content-type')).toBe(PROTOBUF_TYPE);
    const bytes = Buffer.from(await proto.arrayBuffer());
    expect(bytes).toEqual(Buffer.concat([...t.renderProtobuf()]));
    expect(proto.headers.get('content-length')).toBe(String(bytes.length));
    expect(stops.at(-1)).toMatchObject({ status: 200, format: 'protobuf', bytes: bytes.length });
    const zipped = await handler(
      new Request('http://x/metrics', {
        headers: { accept: PROMETHEUS_2_42_NATIVE, 'accept-encoding': 'gzip' },
      }),
    );
    expect(gunzipSync(Buffer.from(await zipped.arrayBuffer()))).toEqual(bytes);
    const forced = await handler(new Request('http://x/metrics?format=protobuf'));
    expect(forced.headers.get('content-type')).toBe(PROTOBUF_TYPE);
    const text = await handler(new Request('http://x/metrics', { headers: { accept: PROMETHEUS_2_42 } }));
    expect(await text.text()).toBe(t.scrape({ format: 'openmetrics' }));

    const registry = { contentType: 'text/plain; version=0.0.4; charset=utf-8', metrics: () => 'other 1\n' };
    const including = metricsFetchHandler(t, { include: [registry], createdSamples: true });
    const om = await including(
      new Request('http://x/metrics', { headers: { accept: PROMETHEUS_2_42_NATIVE } }),
    );
    expect(om.headers.get('content-type')).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    expect(await om.text()).toMatch(/^pbs_orders_count_created\{status="paid"\} /m);
  });

  it('names the escaping scheme asked for on OpenMetrics, never on 0.0.4 or protobuf, and keeps the body', async () => {
    const t = telemeter();
    const server = await start(t);
    const ask = async (accept: string) => {
      const reply = await send(server.url, { headers: { Accept: accept } });
      return [reply.headers['content-type'], reply.text] as const;
    };
    const om = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
    const [type, body] = await ask('application/openmetrics-text;version=1.0.0;escaping=allow-utf-8');
    expect(type).toBe(`${om}; escaping=allow-utf-8`);
    expect(body).toBe(t.scrape({ format: 'openmetrics' }));
    expect((await ask('application/openmetrics-text;escaping=dots'))[0]).toBe(`${om}; escaping=underscores`);
    expect((await ask('text/plain;version=1.0.0;escaping=allow-utf-8'))[0]).toBe(
      'text/plain; version=0.0.4; charset=utf-8',
    );
    expect((await ask(`${PROTOBUF_TYPE};escaping=allow-utf-8`))[0]).toBe(PROTOBUF_TYPE);
    const fetched = await metricsFetchHandler(t)(
      new Request('http://x/metrics', {
        headers: { accept: 'application/openmetrics-text;escaping=values' },
      }),
    );
    expect(fetched.headers.get('content-type')).toBe(`${om}; escaping=values`);
  });
});
