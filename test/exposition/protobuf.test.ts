/**
 * The protobuf exposition, judged by protobufjs with the schema written from client_model's field table
 * (test/fixtures/prometheus-metrics.proto): every family decoded and compared field by field with the read model.
 */
import { describe, expect, it } from 'vitest';
import { encodeProtobuf } from '../../src/exposition/index.js';
import {
  counter,
  distribution,
  execute,
  lastValue,
  type MetricFamily,
  summary,
  Telemeter,
} from '../../src/index.js';
import { fromSpansAndDeltas, toSpansAndDeltas } from '../../src/reporter/native-histogram.js';
import { storedFamilies } from '../../src/reporter/reporter.js';
import {
  type DecodedFamily,
  type DecodedMetric,
  decodeFamilies,
  type Timestamp,
} from '../support/protobuf-exposition.js';
import { closedAfterEach } from '../support/telemeters.js';
import { everyTypeFixture } from './fixture.js';

function body(chunks: Iterable<Uint8Array>): Uint8Array {
  return Buffer.concat([...chunks]);
}

const { track } = closedAfterEach();

function createdMs(timestamp: Timestamp | undefined): number | undefined {
  if (timestamp === undefined) return undefined;
  return (timestamp.seconds ?? 0) * 1000 + (timestamp.nanos ?? 0) / 1e6;
}

/** The read model's view of a family, in the shape the decoded body should have. */
function expected(family: MetricFamily): DecodedFamily {
  const order = family.seriesOrder();
  let step = order.next();
  while (!step.done) step = order.next();
  const metric: DecodedMetric[] = [];
  for (const s of step.value) {
    if (!family.holds(s)) continue;
    const label: { name: string; value: string }[] = [];
    family.forEachLabel(s, (name, value) => label.push({ name, value }));
    const created = family.created(s);
    const entry: DecodedMetric = { label };
    switch (family.kind) {
      case 'counter':
        entry.counter = { value: family.value(s), created_timestamp: timestampOf(created) };
        break;
      case 'gauge':
        entry.gauge = { value: family.value(s) };
        break;
      case 'histogram': {
        let cumulative = 0;
        entry.histogram = {
          sample_count: family.count(s),
          sample_sum: family.sum(s),
          bucket: family.bounds.map((upper_bound, b) => {
            cumulative += family.bucketCount(s, b);
            return { cumulative_count: cumulative, upper_bound };
          }),
          created_timestamp: timestampOf(created),
        };
        break;
      }
      case 'summary': {
        const window = family.window(s);
        entry.summary = {
          sample_count: family.count(s),
          sample_sum: family.sum(s),
          quantile: family.quantiles.map((quantile) => ({ quantile, value: window.quantile(quantile) })),
          created_timestamp: timestampOf(created),
        };
        break;
      }
    }
    metric.push(entry);
  }
  const decoded: DecodedFamily = {
    name: family.name,
    help: family.help,
    type: family.kind.toUpperCase(),
    metric,
  };
  if (family.unit !== undefined) decoded.unit = family.unit;
  return decoded;
}

function timestampOf(milliseconds: number): Timestamp {
  const seconds = Math.floor(milliseconds / 1000);
  const nanos = (milliseconds - seconds * 1000) * 1e6;
  return nanos === 0 ? { seconds } : { seconds, nanos };
}

describe('protobuf exposition', () => {
  it('decodes to the read model, field by field, for every kind, with labels, global tags and hostile values', () => {
    const before = Date.now();
    const t = track(everyTypeFixture('pb1', { selfMetrics: true }));
    const after = Date.now();
    t.refreshComputedFamilies();
    const decoded = decodeFamilies(body(t.renderProtobuf()));
    const families = t.metricFamilies.filter((f) => f.seriesCount > 0);
    expect(decoded.map((f) => f.name)).toEqual(families.map((f) => f.name));
    for (const [i, family] of families.entries()) expect(decoded[i]).toEqual(expected(family));
    // Names are the text formats': a counter keeps its _total.
    expect(decoded.map((f) => f.name)).toContain('pb1_http_request_count_total');
    const kinds = new Set(decoded.map((f) => f.type));
    expect(kinds).toEqual(new Set(['COUNTER', 'GAUGE', 'HISTOGRAM', 'SUMMARY']));
    // Global tags are among the labels; the series' created times are when the fixture made them.
    const requests = decoded.find((f) => f.name === 'pb1_http_request_count_total')!;
    expect(requests.metric[0].label.map((l) => l.name)).toEqual(['route', 'service', 'status']);
    for (const metric of requests.metric) {
      const created = createdMs(metric.counter?.created_timestamp)!;
      expect(created).toBeGreaterThanOrEqual(before);
      expect(created).toBeLessThanOrEqual(after);
    }
    // Gauges carry no created timestamp.
    const gauge = decoded.find((f) => f.type === 'GAUGE')!;
    expect(gauge.metric.every((m) => !('created_timestamp' in (m.gauge ?? {})))).toBe(true);
    // The empty family is left out.
    expect(decoded.some((f) => f.name.startsWith('pb1_empty'))).toBe(false);
  });

  it('writes classic buckets without +Inf, the count holding every observation', () => {
    const t = track(
      new Telemeter({
        metrics: [
          distribution('pb2.latency', {
            eventName: 'pb2.h',
            measurement: 'v',
            reporterOptions: { buckets: [1, 10] },
          }),
        ],
        selfMetrics: false,
      }),
    );
    for (const v of [0.5, 5, 50, 500]) execute('pb2.h', { v });
    const [family] = decodeFamilies(body(t.renderProtobuf()));
    const histogram = family.metric[0].histogram!;
    expect(histogram.bucket).toEqual([
      { cumulative_count: 1, upper_bound: 1 },
      { cumulative_count: 2, upper_bound: 10 },
    ]);
    expect(histogram.sample_count).toBe(4);
    expect(histogram.sample_sum).toBe(555.5);
    expect(histogram.schema).toBeUndefined();
  });

  it('keeps NaN, infinities and negative values exactly, where the text formats would spell them', () => {
    const t = track(
      new Telemeter({
        metrics: [
          lastValue('pb3.level', { eventName: 'pb3.g', measurement: 'v', tags: ['k'] }),
          summary('pb3.window', {
            eventName: 'pb3.s',
            measurement: 'v',
            reporterOptions: { quantiles: [0.5] },
          }),
        ],
        selfMetrics: false,
      }),
    );
    const values = [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -2.5, 0, Number.MAX_VALUE];
    for (const [i, v] of values.entries()) execute('pb3.g', { v }, { k: `k${i}` });
    execute('pb3.s', { v: -3 });
    const decoded = decodeFamilies(body(t.renderProtobuf()));
    const gauge = decoded.find((f) => f.name === 'pb3_level')!;
    const family = t.metricFamilies.find((f) => f.name === 'pb3_level')!;
    expect(decoded.find((f) => f.name === 'pb3_level')).toEqual(expected(family));
    const held = gauge.metric.map((m) => m.gauge!.value);
    for (const v of held) expect(values).toContain(v);
    const windowed = decoded.find((f) => f.name === 'pb3_window')!;
    expect(windowed.metric[0].summary!.sample_sum).toBe(-3);
    expect(windowed.metric[0].summary!.quantile[0].value).toBeCloseTo(-3, 1);

    // A window with nothing in it has NaN quantiles, which protobuf carries as the double NaN.
    const empty = track(
      new Telemeter({
        metrics: [
          summary('pb3.idle', {
            eventName: 'pb3.i',
            measurement: 'v',
            reporterOptions: { maxAgeSeconds: 1 },
          }),
        ],
        selfMetrics: false,
      }),
    );
    const [idle] = decodeFamilies(body(empty.renderProtobuf()));
    expect(idle.metric[0].summary!.sample_count).toBe(0);
    for (const q of idle.metric[0].summary!.quantile) expect(q.value).toBeNaN();
  });

  it('encodes 100k series in 64 KiB pieces with a pause between each, and the whole family as one message', () => {
    const SERIES = 100_000;
    const t = track(
      new Telemeter({
        metrics: [
          distribution('pb4.latency', {
            eventName: 'pb4.h',
            measurement: 'v',
            tags: ['route'],
            reporterOptions: { buckets: [0.1, 1, 10] },
          }),
        ],
        maxSeries: SERIES,
        selfMetrics: false,
      }),
    );
    for (let i = 0; i < SERIES; i++) execute('pb4.h', { v: i % 20 }, { route: `/r/${i}` });
    body(t.renderProtobuf()); // sorts the series once
    const chunks = [...t.renderProtobuf()];
    const pauses = chunks.filter((c) => c.length === 0).length;
    const pieces = chunks.filter((c) => c.length > 0);
    const whole = body(pieces);
    // Each piece but the last two (the family's length prefix, then its last piece) is 64 KiB and a series.
    expect(pauses).toBeGreaterThan(whole.length / (64 * 1024) - 2);
    expect(pauses).toBeLessThanOrEqual(whole.length / (64 * 1024) + 1);
    for (const piece of pieces.slice(1, -1)) {
      expect(piece.length).toBeGreaterThanOrEqual(64 * 1024);
      expect(piece.length).toBeLessThan(64 * 1024 + 512);
    }
    const [family] = decodeFamilies(whole);
    expect(family.metric.length).toBe(SERIES);
    expect(family.metric.reduce((n, m) => n + m.histogram!.sample_count, 0)).toBe(SERIES);
  });

  it('leaves out the series that expire while it is being written, and families emptied before it starts', () => {
    const SERIES = 5_000;
    const t = track(
      new Telemeter({
        metrics: [counter('pb5.count', { eventName: 'pb5.c', measurement: 'v', tags: ['route'] })],
        maxSeries: SERIES,
        selfMetrics: false,
      }),
    );
    for (let i = 0; i < SERIES; i++) execute('pb5.c', { v: 1 }, { route: `/r/${i}` });
    body(t.renderProtobuf());
    const { table } = storedFamilies(t)[0];
    const chunks: Uint8Array[] = [];
    for (const chunk of t.renderProtobuf()) {
      if (chunks.length === 0) expect(table.expire(0)).toBe(SERIES);
      chunks.push(chunk);
    }
    const [family] = decodeFamilies(body(chunks));
    // The first piece was written before the expiry; none after it.
    expect(family.metric.length).toBeGreaterThan(0);
    expect(family.metric.length).toBeLessThan(SERIES);
    expect(decodeFamilies(body(t.renderProtobuf()))).toEqual([]);
  });

  it('gives a recreated series a new created time, and keeps it across scrapes otherwise', async () => {
    const t = track(
      new Telemeter({
        metrics: [counter('pb6.count', { eventName: 'pb6.c', measurement: 'v', tags: ['k'] })],
        selfMetrics: false,
      }),
    );
    execute('pb6.c', { v: 1 }, { k: 'a' });
    const family = t.metricFamilies[0];
    const first = family.created(0);
    await new Promise((resolve) => setTimeout(resolve, 5));
    execute('pb6.c', { v: 1 }, { k: 'a' });
    expect(family.created(0)).toBe(first);
    storedFamilies(t)[0].table.expire(0);
    execute('pb6.c', { v: 1 }, { k: 'b' });
    expect(family.holds(0)).toBe(true);
    expect(family.incarnation(0)).toBe(1);
    expect(family.created(0)).toBeGreaterThan(first);
    const [decoded] = decodeFamilies(body(encodeProtobuf(t.metricFamilies)));
    expect(createdMs(decoded.metric[0].counter!.created_timestamp)).toBe(family.created(0));
  });
});

describe('native histograms in protobuf', () => {
  /** The buckets that decoded spans and deltas describe, as the read model lists them. */
  function buckets(spans: { offset?: number; length?: number }[] = [], deltas: number[] = []) {
    return fromSpansAndDeltas({
      spans: spans.map((s) => ({ offset: s.offset ?? 0, length: s.length ?? 0 })),
      deltas,
    });
  }

  function nativeTelemeter(prefix: string, zeroThreshold?: number): Telemeter {
    const nativeHistogram = zeroThreshold === undefined ? {} : { zeroThreshold };
    return track(
      new Telemeter({
        selfMetrics: false,
        metrics: [
          distribution(`${prefix}.req.duration`, {
            tags: ['route'],
            reporterOptions: { histogram: 'native', nativeHistogram },
          }),
          distribution(`${prefix}.req.both`, {
            eventName: `${prefix}.req`,
            measurement: 'duration',
            tags: ['route'],
            reporterOptions: {
              histogram: 'both',
              buckets: [0.15, 1],
              nativeHistogram: { ...nativeHistogram, schema: 0 },
            },
          }),
        ],
      }),
    );
  }

  it('writes schema, zero bucket, spans and deltas that decode to the store, beside classic buckets for both', () => {
    const t = nativeTelemeter('pbn1');
    const values = [0.1, 0.1, 0.1, 0.2, 0.2, 1.5, -3, -3.1, 0, 1e300, -1e-300];
    for (const [i, v] of values.entries()) execute('pbn1.req', { duration: v }, { route: `/r${i % 3}` });
    const decoded = decodeFamilies(body(t.renderProtobuf()));
    expect(decoded.map((f) => f.name)).toEqual(['pbn1_req_duration', 'pbn1_req_both']);
    for (const [f, family] of t.metricFamilies.entries()) {
      if (family.kind !== 'histogram') throw new Error('not a histogram');
      const metrics = decoded[f].metric;
      expect(metrics).toHaveLength(3);
      for (const [m, s] of [0, 1, 2].entries()) {
        const h = metrics[m].histogram!;
        const data = family.nativeHistogram(s)!;
        expect(metrics[m].label).toEqual([{ name: 'route', value: `/r${s}` }]);
        expect(h.sample_count).toBe(family.count(s));
        expect(h.sample_sum).toBe(family.sum(s));
        expect(h.schema).toBe(data.schema);
        expect(h.zero_threshold).toBe(2 ** -128);
        expect(h.zero_count ?? 0).toBe(data.zeroCount);
        expect(buckets(h.positive_span, h.positive_delta)).toEqual(data.positive);
        expect(buckets(h.negative_span, h.negative_delta)).toEqual(data.negative);
        // Classic buckets only where the family keeps them (+Inf left out as ever).
        expect(h.bucket).toHaveLength(family.bounds.length);
      }
    }
    // /r2 holds 0.1, 1.5 (indices -26 and 5 at schema 3) and 0; /r0's 0.1 and 1e300 are too far apart for schema 3
    // within the window limit, so its resolution was reduced.
    const r2 = decoded[0].metric[2].histogram!;
    expect([r2.schema, r2.zero_count, r2.positive_span, r2.positive_delta]).toEqual([
      3,
      1,
      [
        { offset: -26, length: 1 },
        { offset: 30, length: 1 },
      ],
      [1, 0],
    ]);
    expect(decoded[0].metric[0].histogram!.schema).toBeLessThan(3);
    expect(decoded[1].metric[0].histogram!.bucket.map((b) => b.cumulative_count)).toEqual([2, 3]);
  });

  it('writes the spans and deltas toSpansAndDeltas gives: gaps of 1 or 2 as zero deltas, longer ones as spans', () => {
    const t = nativeTelemeter('pbn4');
    // Schema 0 (the 'both' family): indices 1, 2, 4, 7, 13 and -1 (gaps 0, 1, 2, 5), with counts that go down.
    for (const v of [1.5, 1.5, 1.5, 3, 12, 12, 100, 5000, 0.75, -1.5])
      execute('pbn4.req', { duration: v }, { route: '/a' });
    const both = t.metricFamilies[1];
    if (both.kind !== 'histogram') throw new Error('not a histogram');
    const data = both.nativeHistogram(0)!;
    expect(data.schema).toBe(0);
    const h = decodeFamilies(body(t.renderProtobuf()))[1].metric[0].histogram!;
    const positive = toSpansAndDeltas(data.positive);
    expect(positive.spans).toEqual([
      { offset: 0, length: 8 },
      { offset: 5, length: 1 },
    ]);
    expect(h.positive_span).toEqual(positive.spans);
    expect(h.positive_delta).toEqual(positive.deltas);
    expect(h.negative_span).toEqual(toSpansAndDeltas(data.negative).spans);
    expect(h.negative_delta).toEqual([1]);
  });

  it('writes the no-op span for an empty histogram with a zero threshold of 0, and a native series first', () => {
    const t = nativeTelemeter('pbn2', 0);
    // /a sorts first and stays empty; /b has a bucket. Prometheus 2.42 would read the family as classic from /a.
    t.bind('pbn2.req.duration', { route: '/a' });
    t.bind('pbn2.req.both', { route: '/a' });
    execute('pbn2.req', { duration: 2 }, { route: '/b' });
    const decoded = decodeFamilies(body(t.renderProtobuf()));
    for (const family of decoded) {
      expect(family.metric.map((m) => m.label[0].value)).toEqual(['/b', '/a']);
      const [b, a] = family.metric.map((m) => m.histogram!);
      expect(b.positive_delta).toEqual([1]);
      expect(a.zero_threshold).toBe(0);
      expect(a.sample_count).toBe(0);
      expect(a.positive_span).toEqual([{ offset: 0, length: 0 }]);
      expect(a.positive_delta).toBeUndefined();
    }
    // With a non-zero threshold every series is recognized: label order, and no no-op span.
    const u = nativeTelemeter('pbn3');
    u.bind('pbn3.req.duration', { route: '/a' });
    execute('pbn3.req', { duration: 2 }, { route: '/b' });
    const [family] = decodeFamilies(body(u.renderProtobuf()));
    expect(family.metric.map((m) => m.label[0].value)).toEqual(['/a', '/b']);
    expect(family.metric[0].histogram!.positive_span).toBeUndefined();
  });
});
