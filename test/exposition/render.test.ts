import { describe, expect, it } from 'vitest';
import {
  counter,
  distribution,
  execute,
  type MetricDefinition,
  summary,
  Telemeter,
} from '../../src/index.js';
import { storedFamilies } from '../../src/reporter/reporter.js';
import { closedAfterEach } from '../support/telemeters.js';

const CHUNK_SIZE = 64 * 1024;

const { track } = closedAfterEach();

/** A Telemeter of one metric with `SERIES` series, each recorded once: far more than one chunk of exposition. */
function manySeries(definition: MetricDefinition, SERIES: number): Telemeter {
  const t = new Telemeter({ metrics: [definition], maxSeries: 1_000_000, selfMetrics: false });
  track(t);
  for (let i = 0; i < SERIES; i++) execute(definition.eventName, { v: i % 50 }, { route: `/items/${i}` });
  return t;
}

const requests = () => counter('rc.requests.count', { eventName: 'rc.c', measurement: 'v', tags: ['route'] });
const histogram = () =>
  distribution('rc.latency', {
    eventName: 'rc.h',
    measurement: 'v',
    tags: ['route'],
    reporterOptions: { buckets: [1, 10, 25] },
  });
const windowed = () =>
  summary('rc.duration', {
    eventName: 'rc.s',
    measurement: 'v',
    tags: ['route'],
    reporterOptions: { quantiles: [0.5, 0.99] },
  });

describe.each([
  ['counter', requests, 'rc_requests_count', 1, 6000],
  ['histogram', histogram, 'rc_latency', 6, 2000],
  ['summary', windowed, 'rc_duration', 4, 2000],
] as const)('a streamed %s family', (_kind, define, name, linesPerSeries, SERIES) => {
  it('comes in chunks of about 64 KiB that each end a line, with every line of a series in one chunk', () => {
    const t = manySeries(define(), SERIES);
    const whole = t.scrape(); // sorts the series once; the next render has nothing to sort and no step to yield
    const chunks = [...t.render()];
    expect(chunks.join('')).toBe(whole);
    expect(chunks.length).toBeGreaterThan(2);
    for (const chunk of chunks.slice(0, -1)) {
      expect(chunk.length).toBeGreaterThanOrEqual(CHUNK_SIZE);
      expect(chunk.length).toBeLessThan(CHUNK_SIZE + 1024);
    }
    for (const chunk of chunks) expect(chunk.endsWith('\n')).toBe(true);
    for (const [c, chunk] of chunks.entries()) {
      const routes = new Map<string, number>();
      for (const line of chunk.split('\n')) {
        const route = /route="([^"]*)"/.exec(line)?.[1];
        if (route !== undefined) routes.set(route, (routes.get(route) ?? 0) + 1);
      }
      for (const [route, lines] of routes) {
        expect({ chunk: c, route, lines }).toEqual({ chunk: c, route, lines: linesPerSeries });
      }
    }
    const sampleLines = whole.split('\n').filter((line) => line.startsWith(name));
    expect(sampleLines.length).toBe(SERIES * linesPerSeries);
    expect(new Set(sampleLines).size).toBe(sampleLines.length);
  });

  it('leaves out the series that expire while it is being written', () => {
    const t = manySeries(define(), SERIES);
    t.scrape();
    const { table } = storedFamilies(t)[0];
    const chunks: string[] = [];
    for (const chunk of t.render()) {
      if (chunks.length === 0) expect(table.expire(0)).toBe(SERIES);
      chunks.push(chunk);
    }
    const lines = chunks.join('').split('\n');
    const written = lines.filter((line) => line.startsWith(name));
    // The first chunk was written before the expiry; nothing after it, and no series lost its labels.
    expect(written.length).toBe(chunks[0].split('\n').filter((line) => line.startsWith(name)).length);
    expect(written.length).toBeLessThan(SERIES * linesPerSeries);
    expect(written.filter((line) => !line.includes('route="'))).toEqual([]);
  });
});

describe('negative observations in OpenMetrics', () => {
  function scrapes(): { text: string; om: string } {
    const t = new Telemeter({
      metrics: [
        distribution('neg.balance.delta', { tags: ['k'], reporterOptions: { buckets: [-10, 0, 10] } }),
        distribution('neg.size.change', { tags: ['k'], reporterOptions: { buckets: [0, 1, 5] } }),
        summary('neg.clock.skew', { tags: ['k'], reporterOptions: { quantiles: [0, 0.5, 1] } }),
      ],
      selfMetrics: false,
    });
    track(t);
    for (const delta of [4, 30]) execute('neg.balance', { delta }, { k: 'up' });
    for (const [k, change] of [
      ['down', -3],
      ['zero', 0],
      ['up', 2],
    ] as const) {
      execute('neg.size', { change }, { k });
      execute('neg.clock', { skew: change }, { k });
    }
    execute('neg.clock', { skew: 5 }, { k: 'down' });
    return { text: t.scrape(), om: t.scrape({ format: 'openmetrics' }) };
  }

  it('leaves out a histogram sum and count where a bucket bound is negative, and only in OpenMetrics', () => {
    const { text, om } = scrapes();
    expect(om).toContain('neg_balance_delta_bucket{k="up",le="+Inf"} 2\n');
    expect(om).not.toContain('neg_balance_delta_sum');
    expect(om).not.toContain('neg_balance_delta_count');
    expect(text).toContain('neg_balance_delta_sum{k="up"} 34\n');
    expect(text).toContain('neg_balance_delta_count{k="up"} 2\n');
  });

  it('leaves out a negative histogram sum with its count, and keeps a zero or positive one', () => {
    const { text, om } = scrapes();
    expect(om).not.toContain('neg_size_change_sum{k="down"}');
    expect(om).not.toContain('neg_size_change_count{k="down"}');
    expect(om).toContain('neg_size_change_bucket{k="down",le="+Inf"} 1\n');
    expect(om).toContain('neg_size_change_sum{k="zero"} 0\nneg_size_change_count{k="zero"} 1\n');
    expect(om).toContain('neg_size_change_sum{k="up"} 2\nneg_size_change_count{k="up"} 1\n');
    expect(text).toContain('neg_size_change_sum{k="down"} -3\n');
  });

  it('leaves out negative summary quantiles and a negative summary sum, and keeps zero ones and the count', () => {
    const { text, om } = scrapes();
    const lines = (body: string, k: string) =>
      body.split('\n').filter((l) => l.startsWith(`neg_clock_skew{k="${k}"`));
    // Window of -3 and 5: by nearest rank the 0 and 0.5 quantiles are -3, the maximum is 5.
    expect(lines(om, 'down').map((l) => l.split(' ')[0])).toEqual([
      'neg_clock_skew{k="down",quantile="1.0"}',
    ]);
    expect(lines(text, 'down')).toHaveLength(3);
    expect(om).toContain('neg_clock_skew_sum{k="down"} 2\n');
    expect(lines(om, 'zero')).toEqual([
      'neg_clock_skew{k="zero",quantile="0.0"} 0',
      'neg_clock_skew{k="zero",quantile="0.5"} 0',
      'neg_clock_skew{k="zero",quantile="1.0"} 0',
    ]);
    expect(om).toContain('neg_clock_skew_sum{k="zero"} 0\nneg_clock_skew_count{k="zero"} 1\n');
    const t = new Telemeter({
      metrics: [summary('neg2.clock.skew', { reporterOptions: { quantiles: [0.5] } })],
    });
    track(t);
    execute('neg2.clock', { skew: -1 });
    const negative = t.scrape({ format: 'openmetrics' });
    expect(negative).not.toContain('neg2_clock_skew_sum');
    expect(negative).not.toContain('neg2_clock_skew{quantile');
    expect(negative).toContain('neg2_clock_skew_count 1\n');
  });
});
