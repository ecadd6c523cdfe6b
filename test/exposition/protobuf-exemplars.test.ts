/**
 * Exemplars in the protobuf exposition (`Counter.exemplar`, `Bucket.exemplar`), decoded by protobufjs with the schema
 * written from client_model's field table and compared field by field with the read model.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { encodeProtobuf } from '../../src/exposition/index.js';
import type { Exemplar, HistogramFamily, Telemeter } from '../../src/index.js';
import { type DecodedExemplar, type DecodedFamily, decodeFamilies } from '../support/protobuf-exposition.js';
import { closedAfterEach } from '../support/telemeters.js';
import { exemplarFixture } from './exemplar-fixture.js';

const { track } = closedAfterEach();
afterEach(() => {
  vi.useRealTimers();
});

function decoded(t: Telemeter): Map<string, DecodedFamily> {
  const families = decodeFamilies(Buffer.concat([...encodeProtobuf(t.metricFamilies)]));
  return new Map(families.map((f) => [f.name, f]));
}

/** The read model's exemplar as protobufjs decodes one: labels as pairs, a Timestamp of seconds and nanos. */
function expectedExemplar(exemplar: Exemplar | undefined): DecodedExemplar | undefined {
  if (exemplar === undefined) return undefined;
  const label: { name: string; value: string }[] = [];
  exemplar.forEachLabel((name, value) => label.push({ name, value }));
  const seconds = Math.floor(exemplar.timestamp / 1000);
  const nanos = (exemplar.timestamp - seconds * 1000) * 1e6;
  return { label, value: exemplar.value, timestamp: nanos > 0 ? { seconds, nanos } : { seconds } };
}

describe('exemplars in protobuf', () => {
  it('are Counter.exemplar and Bucket.exemplar, equal field by field to the read model', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const t = exemplarFixture('pbx1', (ms) => vi.setSystemTime(ms));
    track(t);
    const families = decoded(t);
    let compared = 0;
    for (const family of t.metricFamilies) {
      const body = families.get(family.name);
      if (family.kind === 'counter') {
        for (const metric of body?.metric ?? []) {
          const s =
            family.seriesIdLimit === 1
              ? 0
              : metric.label.find((l) => l.name === 'route')?.value === '/a'
                ? 0
                : 1;
          expect(metric.counter?.exemplar).toEqual(expectedExemplar(family.exemplar(s)));
          if (metric.counter?.exemplar !== undefined) compared++;
        }
      } else if (family.kind === 'histogram' && family.exemplars) {
        for (const metric of body!.metric) {
          const s = metric.label.find((l) => l.name === 'route')?.value === '/a' ? 0 : 1;
          const buckets = metric.histogram!.bucket;
          for (let b = 0; b < family.buckets; b++) {
            const written = buckets.find((bucket) =>
              b < family.bounds.length
                ? bucket.upper_bound === family.bounds[b]
                : bucket.upper_bound === Infinity,
            );
            expect(written?.exemplar).toEqual(expectedExemplar(family.exemplar(s, b)));
            if (written?.exemplar !== undefined) compared++;
          }
        }
      }
    }
    // Counter /a and /b, the sum, and the histogram's buckets 0.1, 1 (/a) and +Inf (/b).
    expect(compared).toBe(6);
  });

  it('write the +Inf bucket only to carry its exemplar, with the series count', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const t = exemplarFixture('pbx2', (ms) => vi.setSystemTime(ms));
    track(t);
    const histogram = decoded(t).get('pbx2_req_duration_seconds')!;
    const byRoute = Object.fromEntries(
      histogram.metric.map((m) => [m.label.find((l) => l.name === 'route')!.value, m.histogram!.bucket]),
    );
    expect(byRoute['/a'].map((b) => b.upper_bound)).toEqual([0.1, 1]);
    expect(byRoute['/b']).toHaveLength(3);
    expect(byRoute['/b'][2]).toMatchObject({ upper_bound: Infinity, cumulative_count: 1 });
    expect(byRoute['/b'][2].exemplar).toMatchObject({
      label: [
        { name: 'trace_id', value: 'ünïcödé 日本' },
        { name: 'note', value: 'a "b"\\\n' },
      ],
      value: 7.25,
      timestamp: { seconds: 1700000002, nanos: 999_000_000 },
    });
  });

  it('a family without the option is encoded as before, with no exemplar field', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const t = exemplarFixture('pbx3', (ms) => vi.setSystemTime(ms), false);
    track(t);
    const bytes = Buffer.concat([...encodeProtobuf(t.metricFamilies)]);
    for (const family of decodeFamilies(bytes)) {
      for (const metric of family.metric) {
        expect(metric.counter?.exemplar).toBeUndefined();
        for (const bucket of metric.histogram?.bucket ?? []) expect(bucket.exemplar).toBeUndefined();
      }
    }
    expect(
      decoded(t)
        .get('pbx3_req_duration_seconds')!
        .metric.every((m) => m.histogram!.bucket.length === 2),
    ).toBe(true);
  });

  it('a native histogram also carries its exemplars in Histogram.exemplars, oldest first; a classic one does not', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const t = exemplarFixture('pbx4', (ms) => vi.setSystemTime(ms));
    track(t);
    const classic = t.metricFamilies.find((f) => f.name === 'pbx4_req_duration_seconds') as HistogramFamily;
    // The read model as a family with native buckets shows it (the layout is what the encoder asks).
    const native = Object.create(classic, { layout: { value: 'both' } }) as HistogramFamily;
    const decode = (family: HistogramFamily) =>
      decodeFamilies(Buffer.concat([...encodeProtobuf([family])]))[0].metric.map((m) => m.histogram!);
    expect(decode(classic).map((h) => h.exemplars)).toEqual([undefined, undefined]);
    const [a, b] = decode(native);
    expect(a.exemplars).toEqual([
      expectedExemplar(classic.exemplar(0, 0)),
      expectedExemplar(classic.exemplar(0, 1)),
    ]);
    expect(a.exemplars!.map((e) => e.value)).toEqual([0.05, 0.5]);
    expect(b.exemplars).toEqual([expectedExemplar(classic.exemplar(1, 2))]);
    // The classic buckets keep theirs, for Prometheus 2.42.
    expect(a.bucket.map((bucket) => bucket.exemplar?.value)).toEqual([0.05, 0.5]);
  });
});
