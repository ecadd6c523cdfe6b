import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { counter, distribution, execute, lastValue, summary, Telemeter } from '../../src/index.js';
import { metricsHandler } from '../../src/server/index.js';
import { type PrometheusHandle, startPrometheus } from '../support/prometheus-server.js';
import { type NotingServer, serveNotingScrapes } from '../support/scrape-judges.js';
import { requirePrometheus } from '../support/tools.js';

const hasPrometheus = requirePrometheus();

interface StoredExemplars {
  seriesLabels: Record<string, string>;
  exemplars: { labels: Record<string, string>; value: string; timestamp: number }[];
}

async function queryExemplars(prometheus: PrometheusHandle, query: string): Promise<StoredExemplars[]> {
  const now = Date.now() / 1000;
  const url = `${prometheus.url}/api/v1/query_exemplars?query=${encodeURIComponent(query)}&start=${now - 600}&end=${now + 60}`;
  const response = await fetch(url);
  const body = (await response.json()) as { status: string; data: StoredExemplars[] };
  if (body.status !== 'success') throw new Error(`query_exemplars failed: ${JSON.stringify(body)}`);
  return body.data;
}

/** `series le or route → [trace_id, value, timestamp]` of every stored exemplar, for comparison. */
function flatten(stored: StoredExemplars[]): string[] {
  return stored
    .flatMap(({ seriesLabels, exemplars }) =>
      exemplars.map(
        (e) =>
          `${seriesLabels.__name__}{route=${seriesLabels.route},le=${seriesLabels.le ?? ''}} ${e.labels.trace_id}/${e.labels.span_id} ${e.value} ${e.timestamp}`,
      ),
    )
    .sort();
}

describe.skipIf(!hasPrometheus)('exemplars scraped by Prometheus 2.42 with exemplar storage', () => {
  let telemeter: Telemeter;
  let endpoint: NotingServer;
  let textScraper: PrometheusHandle;
  let protobufScraper: PrometheusHandle;
  /** The Content-Types one scraper got. */
  const contentTypes = (scraper: string) =>
    new Set(endpoint.seen.filter((s) => s.scraper === scraper).map((s) => s.contentType));
  /**
   * When the store stamped the exemplar of a counter series (`bucket` undefined) or a histogram bucket, in seconds:
   * each metric reads the clock itself, so a millisecond can tick between the counter's stamp and the histogram's.
   */
  const stampOf = (name: string, route: string, bucket?: number): number => {
    const family = telemeter.metricFamilies.find((f) => f.name === name);
    if (family === undefined) throw new Error(`no family ${name}`);
    for (let id = 0; id < family.seriesIdLimit; id++) {
      if (!family.holds(id) || family.labelValues(id)[0] !== route) continue;
      const exemplar =
        family.kind === 'histogram'
          ? family.exemplar(id, bucket ?? 0)
          : family.kind === 'counter'
            ? family.exemplar(id)
            : undefined;
      if (exemplar !== undefined) return exemplar.timestamp / 1000;
    }
    throw new Error(`no exemplar for ${name} ${route} ${bucket}`);
  };

  beforeAll(async () => {
    const traceOf = (metadata: Record<string, unknown>) =>
      metadata.trace === undefined
        ? undefined
        : { trace_id: String(metadata.trace), span_id: String(metadata.span) };
    telemeter = new Telemeter({
      metrics: [
        counter('exp.req.count', {
          eventName: 'exp.req',
          measurement: 'duration',
          tags: ['route'],
          exemplar: traceOf,
        }),
        distribution('exp.req.duration.seconds', {
          eventName: 'exp.req',
          measurement: 'duration',
          tags: ['route'],
          reporterOptions: { buckets: [0.1, 1] },
          exemplar: traceOf,
        }),
        // Families without exemplars in the same scrape: a gauge and a summary must not carry any.
        lastValue('exp.req.last', { eventName: 'exp.req', measurement: 'duration' }),
        summary('exp.req.latency', { eventName: 'exp.req', measurement: 'duration' }),
      ],
      globalTags: { service: 'shop' },
    });
    const events: [number, string, string, string][] = [
      [0.05, '/a', '4bf92f3577b34da6a3ce929d0e0e4736', '00f067aa0ba902b7'],
      [0.5, '/a', '4bf92f3577b34da6a3ce929d0e0e4737', '00f067aa0ba902b8'],
      [3, '/b', '4bf92f3577b34da6a3ce929d0e0e4738', '00f067aa0ba902b9'],
    ];
    for (const [duration, route, trace, span] of events) {
      execute('exp.req', { duration }, { route, trace, span });
      await sleep(5);
    }
    endpoint = await serveNotingScrapes(metricsHandler(telemeter));
    const target = endpoint.target;
    [textScraper, protobufScraper] = await Promise.all([
      startPrometheus([{ jobName: 'text', targets: [target], params: { scraper: ['text'] } }], {
        extraArgs: ['--enable-feature=exemplar-storage'],
      }),
      startPrometheus([{ jobName: 'protobuf', targets: [target], params: { scraper: ['protobuf'] } }], {
        extraArgs: ['--enable-feature=exemplar-storage,native-histograms'],
      }),
    ]);
    await Promise.all([textScraper.waitForTargets(), protobufScraper.waitForTargets()]);
    // A few scrapes, so a duplicate stored per scrape would show.
    await Promise.all([
      textScraper.waitForScrapesAfter(Date.now()),
      protobufScraper.waitForScrapesAfter(Date.now()),
    ]);
  }, 90_000);

  afterAll(async () => {
    await textScraper?.stop();
    await protobufScraper?.stop();
    await endpoint?.close();
    telemeter?.close();
  });

  it('was scraped in OpenMetrics by one and protobuf by the other, both up, with no error', async () => {
    expect([...contentTypes('text')]).toEqual(['application/openmetrics-text; version=1.0.0; charset=utf-8']);
    expect([...contentTypes('protobuf')]).toEqual([
      'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited',
    ]);
    for (const prometheus of [textScraper, protobufScraper]) {
      const [target] = await prometheus.targets();
      expect(target).toMatchObject({ health: 'up', lastError: '' });
    }
  });

  it.each(['text', 'protobuf'])(
    '%s: returns each recorded trace id, value and time, each stored once',
    async (job) => {
      const prometheus = job === 'text' ? textScraper : protobufScraper;
      const counter = 'exp_req_count_total';
      const histogram = 'exp_req_duration_seconds';
      const expected = [
        `exp_req_count_total{route=/a,le=} 4bf92f3577b34da6a3ce929d0e0e4737/00f067aa0ba902b8 1 ${stampOf(counter, '/a')}`,
        `exp_req_count_total{route=/b,le=} 4bf92f3577b34da6a3ce929d0e0e4738/00f067aa0ba902b9 1 ${stampOf(counter, '/b')}`,
        `exp_req_duration_seconds_bucket{route=/a,le=0.1} 4bf92f3577b34da6a3ce929d0e0e4736/00f067aa0ba902b7 0.05 ${stampOf(histogram, '/a', 0)}`,
        `exp_req_duration_seconds_bucket{route=/a,le=1.0} 4bf92f3577b34da6a3ce929d0e0e4737/00f067aa0ba902b8 0.5 ${stampOf(histogram, '/a', 1)}`,
        `exp_req_duration_seconds_bucket{route=/b,le=+Inf} 4bf92f3577b34da6a3ce929d0e0e4738/00f067aa0ba902b9 3 ${stampOf(histogram, '/b', 2)}`,
      ].sort();
      const stored = flatten(
        await queryExemplars(
          prometheus,
          `{__name__=~"exp_req_count_total|exp_req_duration_seconds_bucket",job="${job}"}`,
        ),
      );
      // Timestamps are written to the millisecond and read back as seconds: compare them as Prometheus rounds them.
      expect(
        stored.map((line) =>
          line.replace(/ (\d+\.\d+)$/, (_, s) => ` ${Math.round(Number(s) * 1000) / 1000}`),
        ),
      ).toEqual(expected);
      // The exposition agrees with what the scrapers stored: its histograms' +Inf bucket counts each observation once.
      expect(
        await prometheus.queryValue(`exp_req_duration_seconds_bucket{job="${job}",route="/b",le="+Inf"}`),
      ).toBe(1);
      expect(await prometheus.queryValue(`exp_req_duration_seconds_count{job="${job}",route="/b"}`)).toBe(1);
    },
  );
});
