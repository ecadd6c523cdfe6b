import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  counter,
  distribution,
  execute,
  lastValue,
  listHandlers,
  setLogger,
  sum,
  summary,
  Telemeter,
} from '../../src/index.js';
import { accuracyOfSchema } from '../../src/reporter/log-sketch.js';
import { sample, samples } from '../support/samples.js';
import { closedAfterEach } from '../support/telemeters.js';

const { make } = closedAfterEach({ selfMetrics: true });

let warnings: string[] = [];
beforeEach(() => {
  warnings = [];
  setLogger({ warn: (_f, m) => warnings.push(m), error: (_f, m) => warnings.push(m) });
});
afterEach(() => {
  setLogger(null);
});

describe('counter', () => {
  it('counts events that carry the measurement, by tags', () => {
    const t = make([
      counter('r1.request.count', {
        eventName: 'r1.request.stop',
        measurement: 'duration',
        tags: ['route', 'status'],
      }),
    ]);
    execute('r1.request.stop', { duration: 10 }, { route: '/cart', status: 200 });
    execute('r1.request.stop', { duration: 20 }, { route: '/cart', status: '200' });
    execute('r1.request.stop', { duration: 20 }, { route: '/cart', status: 500 });
    execute('r1.request.stop', { other: 1 }, { route: '/cart', status: 200 });
    const body = t.scrape();
    expect(sample(body, 'r1_request_count_total{route="/cart",status="200"}')).toBe(2);
    expect(sample(body, 'r1_request_count_total{route="/cart",status="500"}')).toBe(1);
    expect(
      sample(body, 'telemeter_dropped_events_total{metric="r1.request.count",reason="missing_measurement"}'),
    ).toBe(1);
  });
});

describe('sum', () => {
  it('adds exact floats, unrounded, including unit conversion', () => {
    const t = make([
      sum('r2.order.amount', { tags: ['currency'] }),
      sum('r2.io.bytes', { unit: ['byte', 'kilobyte'] }),
    ]);
    for (let i = 0; i < 1000; i++) execute('r2.order', { amount: 0.4 }, { currency: 'EUR' });
    execute('r2.io', { bytes: 1500 });
    let expected = 0;
    for (let i = 0; i < 1000; i++) expected += 0.4;
    const body = t.scrape();
    expect(sample(body, 'r2_order_amount_total{currency="EUR"}')).toBe(expected);
    expect(sample(body, 'r2_io_bytes_total')).toBe(1.5);
  });

  it('refuses to decrease a counter-typed sum, but a gauge-typed sum may go down', () => {
    const t = make([
      sum('r3.queue.delta', {}),
      sum('r3.pool.delta', { reporterOptions: { prometheusType: 'gauge' } }),
    ]);
    execute('r3.queue', { delta: 5 });
    execute('r3.queue', { delta: -2 });
    execute('r3.pool', { delta: 5 });
    execute('r3.pool', { delta: -2 });
    const body = t.scrape();
    expect(sample(body, 'r3_queue_delta_total')).toBe(5);
    expect(sample(body, 'r3_pool_delta')).toBe(3);
    expect(body).toContain('# TYPE r3_pool_delta gauge');
    expect(
      sample(body, 'telemeter_dropped_events_total{metric="r3.queue.delta",reason="negative_counter"}'),
    ).toBe(1);
  });
});

describe('lastValue', () => {
  it('keeps the latest value per series, converted', () => {
    const t = make([lastValue('r4.memory.total', { unit: ['byte', 'kilobyte'] })]);
    execute('r4.memory', { total: 2_000_000 });
    execute('r4.memory', { total: 3_000_000 });
    expect(sample(t.scrape(), 'r4_memory_total')).toBe(3000);
  });
});

describe('distribution', () => {
  it('uses inclusive upper bounds, cumulative buckets, an unrounded sum and +Inf = count', () => {
    const t = make([distribution('r5.req.latency', { reporterOptions: { buckets: [1, 2, 5] } })]);
    for (const v of [0.4, 1, 1.0000001, 2, 5, 6, -3]) execute('r5.req', { latency: v });
    const body = t.scrape();
    expect(sample(body, 'r5_req_latency_bucket{le="1.0"}')).toBe(3); // -3, 0.4, 1
    expect(sample(body, 'r5_req_latency_bucket{le="2.0"}')).toBe(5);
    expect(sample(body, 'r5_req_latency_bucket{le="5.0"}')).toBe(6);
    expect(sample(body, 'r5_req_latency_bucket{le="+Inf"}')).toBe(7);
    expect(sample(body, 'r5_req_latency_count')).toBe(7);
    expect(sample(body, 'r5_req_latency_sum')).toBe(0.4 + 1 + 1.0000001 + 2 + 5 + 6 - 3);
  });

  it('does not round small samples away (Peep summed 1000 × 0.4 as 0)', () => {
    const t = make([distribution('r6.x.v', { reporterOptions: { buckets: [1] } })]);
    for (let i = 0; i < 1000; i++) execute('r6.x', { v: 0.4 });
    expect(sample(t.scrape(), 'r6_x_v_sum')).toBeCloseTo(400, 9);
  });

  it('chooses default buckets from the unit, so second-based latencies spread over buckets', () => {
    const t = make([distribution('r7.req.duration', { unit: ['native', 'second'] })]);
    for (const ms of [3, 8, 20, 40, 90, 200, 600, 2000]) execute('r7.req', { duration: ms * 1e6 });
    const body = t.scrape();
    const buckets = [...samples(body)].filter(([k]) => k.startsWith('r7_req_duration_bucket'));
    const distinctCounts = new Set(buckets.map(([, v]) => v));
    expect(distinctCounts.size).toBeGreaterThanOrEqual(8);
    expect(sample(body, 'r7_req_duration_bucket{le="0.005"}')).toBe(1);
  });

  it('accepts exponential and linear bucket specs and rejects bad ones', () => {
    const t = make([
      distribution('r8.a.v', {
        reporterOptions: { buckets: { exponential: { start: 1, factor: 10, count: 3 } } },
      }),
      distribution('r8.b.v', { reporterOptions: { buckets: { linear: { start: 0, width: 5, count: 3 } } } }),
    ]);
    const body = t.scrape();
    expect(body).toContain('r8_a_v_bucket{le="100.0"} 0');
    expect(body).toContain('r8_b_v_bucket{le="10.0"} 0');
    expect(() => make([distribution('r8.c.v', { reporterOptions: { buckets: [2, 1] } })])).toThrow(
      'metric "r8.c.v": option reporterOptions.buckets must be strictly increasing',
    );
    expect(() => make([distribution('r8.d.v', { reporterOptions: { buckets: [1, Number.NaN] } })])).toThrow(
      /non-finite bound/,
    );
    expect(() => make([distribution('r8.e.v', { reporterOptions: { buckets: [] } })])).toThrow(
      /must not be empty/,
    );
  });
});

describe('summary', () => {
  it('exports quantiles within the relative-error bound, with exact sum and count', () => {
    const t = make([summary('r9.db.query', { reporterOptions: { quantiles: [0.5, 0.9, 0.99] } })]);
    for (let i = 1; i <= 1000; i++) execute('r9.db', { query: i });
    const body = t.scrape();
    // The nearest-rank q-quantile of 1..1000 is ⌈1000·q⌉; the sketch's default schema (5) promises 1.08%.
    for (const q of [0.5, 0.9, 0.99]) {
      const exact = Math.ceil(1000 * q);
      expect(Math.abs(sample(body, `r9_db_query{quantile="${q}"}`) - exact) / exact).toBeLessThanOrEqual(
        0.0109,
      );
    }
    expect(sample(body, 'r9_db_query_sum')).toBe(500500);
    expect(sample(body, 'r9_db_query_count')).toBe(1000);
  });

  it('picks the coarsest schema within relativeAccuracy, from -4 to 8, and keeps every quantile within its bound', () => {
    const cases: Array<[number | undefined, number]> = [
      [undefined, 5],
      [0.99999, -4],
      [0.5, 0],
      [0.05, 3],
      [0.011, 5],
      [0.01, 6],
      [0.0014, 8],
    ];
    const t = make(
      cases.map(([relativeAccuracy], i) =>
        summary(`r9s${i}.db.query`, {
          eventName: 'r9s.db',
          measurement: 'query',
          reporterOptions: { quantiles: [0.01, 0.5, 0.99], ...(relativeAccuracy && { relativeAccuracy }) },
        }),
      ),
    );
    const values = Array.from({ length: 1000 }, (_, i) => (i - 100) * 0.37);
    for (const query of values) execute('r9s.db', { query });
    const body = t.scrape();
    cases.forEach(([, schema], i) => {
      const family = t.metricFamilies.find((f) => f.name === `r9s${i}_db_query`);
      if (family?.kind !== 'summary') throw new Error('no summary family');
      expect([family.schema, family.relativeAccuracy]).toEqual([schema, accuracyOfSchema(schema)]);
      for (const q of [0.01, 0.5, 0.99]) {
        const exact = values[Math.ceil(q * values.length) - 1];
        const got = sample(body, `r9s${i}_db_query{quantile="${q}"}`);
        expect(Math.abs(got - exact) / Math.abs(exact)).toBeLessThanOrEqual(
          family.relativeAccuracy * (1 + 1e-12),
        );
      }
    });
  });

  it('records negative values, zeros and values just below 1 as exactly as positive ones', () => {
    const quantiles = { quantiles: [0, 0.25, 0.5, 0.75, 1] };
    const bound = summary('r9c.temp.delta', { reporterOptions: quantiles });
    const t = make([summary('r9b.temp.delta', { reporterOptions: quantiles }), bound]);
    const handle = t.bind(bound, {});
    const values = [-500, -0.75, 0, 0, 0.999, 1, 2.5, 400];
    for (const delta of values) {
      execute('r9b.temp', { delta });
      handle.record(delta);
    }
    const body = t.scrape();
    // A bound handle records through the store's own observe: the same quantiles.
    for (const q of ['0.0', '0.25', '0.5', '0.75', '1.0']) {
      expect(sample(body, `r9c_temp_delta{quantile="${q}"}`)).toBe(
        sample(body, `r9b_temp_delta{quantile="${q}"}`),
      );
    }
    // Nearest rank over the 8 sorted values: q=0 → -500, 0.25 → -0.75, 0.5 → 0, 0.75 → 1, 1 → 400.
    const expected: Array<[string, number]> = [
      ['0.0', -500],
      ['0.25', -0.75],
      ['0.5', 0],
      ['0.75', 1],
      ['1.0', 400],
    ];
    for (const [q, exact] of expected) {
      const got = sample(body, `r9b_temp_delta{quantile="${q}"}`);
      if (exact === 0) expect(got).toBe(0);
      else expect(Math.abs(got - exact) / Math.abs(exact)).toBeLessThanOrEqual(0.0109);
    }
    expect(sample(body, 'r9b_temp_delta_count')).toBe(values.length);
    expect(sample(body, 'r9b_temp_delta_sum')).toBe(values.reduce((a, b) => a + b, 0));
  });

  it('reports NaN quantiles when the window is empty, and forgets old observations as the window slides', () => {
    vi.useFakeTimers();
    try {
      const t = make([summary('r10.db.query', { reporterOptions: { maxAgeSeconds: 10, ageBuckets: 2 } })]);
      expect(t.scrape()).toContain('r10_db_query{quantile="0.5"} NaN');
      execute('r10.db', { query: 100 });
      vi.advanceTimersByTime(5_000);
      execute('r10.db', { query: 1 });
      expect(sample(t.scrape(), 'r10_db_query{quantile="0.99"}')).toBeGreaterThan(90);
      vi.advanceTimersByTime(5_000);
      // The slot holding 100 has rotated out; only 1 remains in the window.
      expect(sample(t.scrape(), 'r10_db_query{quantile="0.99"}')).toBeCloseTo(1, 1);
      expect(sample(t.scrape(), 'r10_db_query_count')).toBe(2);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('tags, keep and tagValues', () => {
  it('skips an event missing a tag, and counts it', () => {
    const t = make([counter('r11.x.v', { tags: ['route'] })]);
    execute('r11.x', { v: 1 }, {});
    execute('r11.x', { v: 1 }, { route: null });
    execute('r11.x', { v: 1 }, { route: { nested: true } });
    const body = t.scrape();
    expect([...samples(body).keys()].some((k) => k.startsWith('r11_x_v'))).toBe(false);
    expect(sample(body, 'telemeter_dropped_events_total{metric="r11.x.v",reason="missing_tag"}')).toBe(2);
    expect(sample(body, 'telemeter_dropped_events_total{metric="r11.x.v",reason="invalid_tag"}')).toBe(1);
  });

  it('evaluates keep on raw metadata before tagValues, with the event measurements', () => {
    const keep = vi.fn(
      (md: Record<string, unknown>, m: Record<string, unknown>) => md.kind === 'a' && m.v === 1,
    );
    const tagValues = vi.fn((md: Record<string, unknown>) => ({ route: `/${md.kind}` }));
    const t = make([counter('r12.x.v', { tags: ['route'], keep, tagValues })]);
    execute('r12.x', { v: 1 }, { kind: 'a' });
    execute('r12.x', { v: 2 }, { kind: 'a' });
    execute('r12.x', { v: 1 }, { kind: 'b' });
    expect(sample(t.scrape(), 'r12_x_v_total{route="/a"}')).toBe(1);
    expect(keep).toHaveBeenCalledWith({ kind: 'a' }, { v: 1 });
    expect(tagValues).toHaveBeenCalledTimes(1);
  });

  it('merges global tags at export; the metric tag wins', () => {
    const t = make([counter('r13.x.v', { tags: ['service'] }), counter('r13.y.v')], {
      globalTags: { service: 'shop', region_name: 'eu' },
    });
    execute('r13.x', { v: 1 }, { service: 'billing' });
    execute('r13.y', { v: 1 });
    const body = t.scrape();
    expect(sample(body, 'r13_x_v_total{region_name="eu",service="billing"}')).toBe(1);
    expect(sample(body, 'r13_y_v_total{region_name="eu",service="shop"}')).toBe(1);
  });

  it('does not merge tag values that contain separators (prom-client key collision)', () => {
    const t = make([counter('r14.x.v', { tags: ['a', 'b'] })]);
    execute('r14.x', { v: 1 }, { a: 'x,b:y', b: '' });
    execute('r14.x', { v: 1 }, { a: 'x', b: 'y' });
    execute('r14.x', { v: 1 }, { a: 'x|', b: '' });
    execute('r14.x', { v: 1 }, { a: 'x', b: '|' });
    expect([...samples(t.scrape()).keys()].filter((k) => k.startsWith('r14_x_v'))).toHaveLength(4);
  });
});

describe('isolation: bad input never throws and never stops other metrics', () => {
  it.each([
    ['NaN', Number.NaN, 'invalid_measurement'],
    ['Infinity', Number.POSITIVE_INFINITY, 'invalid_measurement'],
    ['a string', '12', 'invalid_measurement'],
    ['an object', { n: 1 }, 'invalid_measurement'],
    ['undefined', undefined, 'missing_measurement'],
    ['null', null, 'missing_measurement'],
  ])('skips %s and counts it', (_label, value, reason) => {
    const t = make([sum('r15.x.v'), distribution('r15.x.w', { measurement: 'v' })]);
    expect(() => execute('r15.x', { v: value })).not.toThrow();
    execute('r15.x', { v: 2 });
    const body = t.scrape();
    expect(sample(body, 'r15_x_v_total')).toBe(2);
    expect(sample(body, 'r15_x_w_count')).toBe(1);
    expect(sample(body, `telemeter_dropped_events_total{metric="r15.x.v",reason="${reason}"}`)).toBe(1);
  });

  it('accepts bigint measurements', () => {
    const t = make([sum('r16.x.v')]);
    execute('r16.x', { v: 10n });
    expect(sample(t.scrape(), 'r16_x_v_total')).toBe(10);
  });

  it('contains throwing keep, tagValues and measurement functions to their own metric', () => {
    const t = make([
      counter('r17.x.keep', {
        measurement: 'v',
        keep: () => {
          throw new Error('k');
        },
      }),
      counter('r17.x.tags', {
        measurement: 'v',
        tags: ['a'],
        tagValues: () => {
          throw new Error('t');
        },
      }),
      counter('r17.x.fn', {
        measurement: () => {
          throw new Error('m');
        },
      }),
      counter('r17.x.ok', { measurement: 'v' }),
    ]);
    expect(() => execute('r17.x', { v: 1 })).not.toThrow();
    execute('r17.x', { v: 1 });
    const body = t.scrape();
    expect(sample(body, 'r17_x_ok_total')).toBe(2);
    expect(sample(body, 'telemeter_dropped_events_total{metric="r17.x.keep",reason="keep_error"}')).toBe(2);
    expect(
      sample(body, 'telemeter_dropped_events_total{metric="r17.x.tags",reason="tag_values_error"}'),
    ).toBe(2);
    expect(sample(body, 'telemeter_dropped_events_total{metric="r17.x.fn",reason="measurement_error"}')).toBe(
      2,
    );
    // The reporter's handler is never detached.
    expect(listHandlers('r17.x')).toHaveLength(1);
    // One warning per metric and reason, not one per event.
    expect(warnings.filter((w) => w.includes('r17.x.keep'))).toHaveLength(1);
  });

  it('survives non-object measurements', () => {
    const t = make([counter('r18.x.v')]);
    expect(() => execute('r18.x', null as never)).not.toThrow();
    expect(
      sample(t.scrape(), 'telemeter_dropped_events_total{metric="r18.x.v",reason="invalid_measurement"}'),
    ).toBe(1);
  });
});

describe('cardinality', () => {
  it('folds tag sets past maxSeries into one overflow series, counts each folded event and warns once', () => {
    const t = make([counter('r19.x.v', { tags: ['user'], reporterOptions: { maxSeries: 3 } })]);
    for (let i = 0; i < 10; i++) execute('r19.x', { v: 1 }, { user: `u${i}` });
    execute('r19.x', { v: 1 }, { user: 'u0' });
    const body = t.scrape();
    const series = [...samples(body).keys()].filter((k) => k.startsWith('r19_x_v_total'));
    expect(series).toHaveLength(4);
    expect(sample(body, 'r19_x_v_total{user="u0"}')).toBe(2);
    expect(sample(body, 'r19_x_v_total{user="__overflow__"}')).toBe(7);
    expect(sample(body, 'telemeter_series_overflow_total{metric="r19.x.v"}')).toBe(7);
    expect(sample(body, 'telemeter_series{metric="r19.x.v"}')).toBe(4);
    expect(warnings.filter((w) => w.includes('maxSeries'))).toHaveLength(1);
  });
});

describe('start-up validation', () => {
  it('rejects two definitions that export the same name, and shows the fix', () => {
    const run = () =>
      make([counter('http.request.stop.duration'), distribution('http.request.stop.duration')]);
    expect(run).toThrow(
      /metric "http.request.stop.duration" \(distribution\) exports the name "http_request_stop_duration"/,
    );
    expect(run).toThrow(/eventName/);
    expect(run).toThrow(/measurement/);
  });

  it('rejects a counter whose _total name another metric has, naming both, in either definition order', () => {
    const counterFirst = () =>
      make([
        counter('c1.jobs', { eventName: 'c1.job' }),
        lastValue('c1.jobs_total', { eventName: 'c1.job' }),
      ]);
    expect(counterFirst).toThrow(
      'metric "c1.jobs_total" (last_value) exports the name "c1_jobs_total", which metric "c1.jobs" (counter) also exports',
    );
    const gaugeFirst = () =>
      make([lastValue('c2.jobs_total', { eventName: 'c2.job' }), sum('c2.jobs', { eventName: 'c2.job' })]);
    expect(gaugeFirst).toThrow(
      'metric "c2.jobs" (sum) exports the name "c2_jobs_total", which metric "c2.jobs_total" (last_value) also exports',
    );
    // Two counters, one named with the suffix and one without, would be one series in both formats.
    expect(() =>
      make([counter('c3.jobs', { eventName: 'c3.job' }), counter('c3.jobs_total', { eventName: 'c3.job' })]),
    ).toThrow(
      /metric "c3.jobs_total" \(counter\) exports the name "c3_jobs", which metric "c3.jobs" \(counter\)/,
    );
    // A sum exported as a gauge keeps its name, so it leaves the _total name free.
    const t = make([
      sum('c4.jobs', { eventName: 'c4.job', reporterOptions: { prometheusType: 'gauge' } }),
      lastValue('c4.jobs_total', { eventName: 'c4.job' }),
    ]);
    expect(t.metricFamilies.map((f) => f.name)).toContain('c4_jobs');
  });

  it('rejects a name that collides with a histogram suffix', () => {
    expect(() =>
      make([distribution('a.b.latency'), counter('a.b.latency_count', { eventName: 'a.b' })]),
    ).toThrow(/a_b_latency_count/);
  });

  it('rejects invalid label names, le on a distribution, quantile on a summary', () => {
    expect(() => make([counter('a.b', { tags: ['bad-name'] })])).toThrow(
      'metric "a.b": option tags has "bad-name"',
    );
    expect(() => make([counter('a.b', { tags: ['__x'] })])).toThrow(/option tags has "__x"/);
    expect(() => make([distribution('a.b', { tags: ['le'] })])).toThrow(/cannot use "le"/);
    expect(() => make([summary('a.b', { tags: ['quantile'] })])).toThrow(/cannot use "quantile"/);
    expect(() => make([counter('a.b')], { globalTags: { 'x-y': '1' } })).toThrow(/globalTags has "x-y"/);
    expect(() => make(['nope' as never])).toThrow(/metrics\[0\] is not a metric definition/);
    expect(() => make([counter('telemeter.series', { eventName: 'x.y' })])).toThrow(/telemeter_series/);
  });

  it('rejects misspelt options, naming the closest valid one, instead of ignoring them', () => {
    const metrics = [counter('v1.a.b')];
    expect(() => make(metrics, { maxSerie: 10 } as never)).toThrow(
      expect.objectContaining({
        code: 'ERR_TELEMETER_UNKNOWN_OPTION',
        message: expect.stringContaining(
          'new Telemeter: option maxSerie is unknown (did you mean maxSeries?',
        ),
      }),
    );
    expect(() => make(metrics, { globaltags: { region: 'eu' } } as never)).toThrow(
      /did you mean globalTags\?/,
    );
    const t = make(metrics);
    expect(() => t.scrape({ fromat: 'openmetrics' } as never)).toThrow(
      expect.objectContaining({
        code: 'ERR_TELEMETER_UNKNOWN_OPTION',
        message: expect.stringContaining('format'),
      }),
    );
    expect(() => make(metrics, { selfMetrics: 'no' } as never)).toThrow(
      expect.objectContaining({ code: 'ERR_TELEMETER_INVALID_OPTION' }),
    );
    expect(() => make(metrics, { logger: console.log } as never)).toThrow(
      expect.objectContaining({
        code: 'ERR_TELEMETER_INVALID_OPTION',
        message: expect.stringContaining('logger'),
      }),
    );
  });

  it.each(['le', 'quantile'])(
    'rejects globalTags.%s, which every histogram or summary would carry twice',
    (label) => {
      expect(() => make([counter('v2.a.b')], { globalTags: { [label]: 'x' } })).toThrow(
        expect.objectContaining({
          code: 'ERR_TELEMETER_INVALID_OPTION',
          message: expect.stringContaining(`option globalTags has "${label}"`),
        }),
      );
    },
  );

  it('records one definition object listed twice once, and still refuses two definitions of one name', () => {
    const shared = counter('shared.op.count', { eventName: 'shared.op', measurement: 'n' });
    const t = make([shared, shared]);
    execute('shared.op', { n: 1 });
    expect(t.scrape()).toContain('shared_op_count_total 1\n');
    const twin = counter('shared.op.count', { eventName: 'shared.op', measurement: 'n' });
    expect(() => make([shared, twin])).toThrow(
      expect.objectContaining({ code: 'ERR_TELEMETER_DUPLICATE_NAME' }),
    );
  });

  it('gives every start-up error a stable code', () => {
    const codeOf = (run: () => unknown) => {
      try {
        run();
      } catch (error) {
        return (error as { code?: string }).code;
      }
      return undefined;
    };
    expect(codeOf(() => make([counter('http.x.duration'), distribution('http.x.duration')]))).toBe(
      'ERR_TELEMETER_DUPLICATE_NAME',
    );
    const t = make([counter('v3.req.count', { tags: ['route'] })]);
    expect(codeOf(() => t.bind('v3.nope'))).toBe('ERR_TELEMETER_UNKNOWN_METRIC');
    expect(codeOf(() => t.bind('v3.req.count', {}))).toBe('ERR_TELEMETER_INVALID_TAGS');
    expect(codeOf(() => make([{} as never]))).toBe('ERR_TELEMETER_INVALID_OPTION');
    expect(codeOf(() => new Telemeter(null as never))).toBe('ERR_TELEMETER_INVALID_OPTION');
  });
});

describe('logger option', () => {
  it('logs through the Telemeter’s own logger, pino-style, once per metric and reason for each Telemeter', () => {
    const lines: Array<[Record<string, unknown>, string]> = [];
    const logger = {
      warn: (fields: Record<string, unknown>, message: string) => lines.push([fields, message]),
      error: (fields: Record<string, unknown>, message: string) => lines.push([fields, message]),
    };
    const a = make([sum('lg1.x.v')], { logger });
    const b = make([sum('lg1.x.w', { measurement: 'v' })], { logger });
    for (let i = 0; i < 3; i++) execute('lg1.x', { v: 'bad' });
    expect(lines.map(([fields]) => fields)).toEqual([{ metric: 'lg1.x.v' }, { metric: 'lg1.x.w' }]);
    expect(lines[0][1]).toContain('metric "lg1.x.v" skipped an event (invalid_measurement');
    // The process-wide logger saw none of it.
    expect(warnings).toEqual([]);
    expect(
      sample(a.scrape(), 'telemeter_dropped_events_total{metric="lg1.x.v",reason="invalid_measurement"}'),
    ).toBe(3);
    expect(
      sample(b.scrape(), 'telemeter_dropped_events_total{metric="lg1.x.w",reason="invalid_measurement"}'),
    ).toBe(3);
  });

  it('takes a pino logger as it is: one JSON line with the metric and the error under err', () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const logger = pino({ base: undefined }, destination);
    const t = make(
      [
        sum('lg4.x.v', {
          measurement: () => {
            throw new Error('no such field');
          },
        }),
      ],
      { logger },
    );
    execute('lg4.x', { v: 1 });
    execute('lg4.x', { v: 1 });
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]);
    expect(line).toMatchObject({
      level: 40,
      metric: 'lg4.x.v',
      err: { type: 'Error', message: 'no such field' },
    });
    expect(line.msg).toContain('metric "lg4.x.v" skipped an event (measurement_error');
    expect(
      sample(t.scrape(), 'telemeter_dropped_events_total{metric="lg4.x.v",reason="measurement_error"}'),
    ).toBe(2);
  });

  it('keeps counting, and keeps its handler, when the logger throws', () => {
    const throwing = {
      warn: () => {
        throw new Error('logger down');
      },
      error: () => {
        throw new Error('logger down');
      },
    };
    // The process-wide logger, then a Telemeter's own: each is the first to hear of its metric's bad event.
    for (const [name, options] of [
      ['lg2a', {}],
      ['lg2b', { logger: throwing }],
    ] as const) {
      setLogger('logger' in options ? null : throwing);
      const t = make([sum(`${name}.x.v`, { tags: ['route'] })], options);
      expect(() => execute(`${name}.x`, { v: Number.NaN }, { route: '/a' })).not.toThrow();
      execute(`${name}.x`, { v: 2 }, { route: '/a' });
      execute(`${name}.x`, { v: 3 }, { route: '/a' });
      expect(listHandlers(`${name}.x`)).toHaveLength(1);
      const body = t.scrape();
      expect(sample(body, `${name}_x_v_total{route="/a"}`)).toBe(5);
      expect(
        sample(body, `telemeter_dropped_events_total{metric="${name}.x.v",reason="invalid_measurement"}`),
      ).toBe(1);
      t.close();
    }
  });

  it('counts an internal error and logs its first occurrence with the error and the metric', () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = { warn: (fields: Record<string, unknown>) => lines.push(fields), error: () => {} };
    const t = make([distribution('lg3.x.v', { tags: ['route'] }), sum('lg3.x.w', { measurement: 'v' })], {
      logger,
    });
    // A metadata getter that throws is the one way an event reaches telemeter's own code with an exception.
    const hostile = Object.defineProperty({}, 'route', {
      enumerable: true,
      get() {
        throw new Error('getter');
      },
    });
    expect(() => execute('lg3.x', { v: 1 }, hostile)).not.toThrow();
    expect(() => execute('lg3.x', { v: 1 }, hostile)).not.toThrow();
    const body = t.scrape();
    expect(sample(body, 'telemeter_dropped_events_total{metric="lg3.x.v",reason="internal_error"}')).toBe(2);
    // The other metric of the event still recorded both.
    expect(sample(body, 'lg3_x_w_total')).toBe(2);
    expect(lines).toHaveLength(1);
    expect(lines[0].metric).toBe('lg3.x.v');
    expect((lines[0].err as Error).message).toBe('getter');
  });
});

describe('close', () => {
  it('detaches every handler it attached and stops recording', () => {
    const t = make([counter('r20.x.v'), counter('r20.y.v'), sum('r20.x.w', { measurement: 'v' })]);
    expect(listHandlers('r20')).toHaveLength(2);
    t.close();
    expect(listHandlers('r20')).toHaveLength(0);
    execute('r20.x', { v: 1 });
    expect(sample(t.scrape(), 'r20_x_v_total')).toBe(0);
    expect(() => t.close()).not.toThrow();
  });
});

describe('bind', () => {
  it('records straight into one series, with the unit ratio, and never throws on bad values', () => {
    const latency = distribution('r21.req.duration', {
      unit: ['native', 'millisecond'],
      tags: ['route'],
      reporterOptions: { buckets: [1, 10] },
    });
    const hits = counter('r21.req.count', { eventName: 'r21.req', measurement: 'duration', tags: ['route'] });
    const total = sum('r21.req.bytes', { tags: ['route'] });
    const t = make([latency, hits, total]);
    const bound = t.bind(latency, { route: '/cart' });
    const boundHits = t.bind('r21.req.count', { route: '/cart' });
    const boundTotal = t.bind(total, { route: '/cart' });
    bound.record(500_000);
    bound.record(5_000_000);
    expect(() => bound.record(Number.NaN)).not.toThrow();
    boundHits.record();
    boundHits.record();
    boundTotal.record(-1);
    boundTotal.record(100);
    execute('r21.req', { duration: 20_000_000, bytes: 1 }, { route: '/cart' });
    const body = t.scrape();
    expect(sample(body, 'r21_req_duration_bucket{route="/cart",le="1.0"}')).toBe(1);
    expect(sample(body, 'r21_req_duration_bucket{route="/cart",le="10.0"}')).toBe(2);
    expect(sample(body, 'r21_req_duration_count{route="/cart"}')).toBe(3);
    expect(sample(body, 'r21_req_duration_sum{route="/cart"}')).toBe(25.5);
    expect(sample(body, 'r21_req_count_total{route="/cart"}')).toBe(3);
    expect(sample(body, 'r21_req_bytes_total{route="/cart"}')).toBe(101);
    expect(
      sample(body, 'telemeter_dropped_events_total{metric="r21.req.duration",reason="invalid_measurement"}'),
    ).toBe(1);
    expect(
      sample(body, 'telemeter_dropped_events_total{metric="r21.req.bytes",reason="negative_counter"}'),
    ).toBe(1);
  });

  it('fails at bind time for an unknown metric or missing tags', () => {
    const t = make([counter('r22.req.count', { tags: ['route'] })]);
    expect(() => t.bind('nope.metric')).toThrow('metric "nope.metric" is not defined');
    expect(() => t.bind('r22.req.count', {})).toThrow(/needs tags route/);
  });
});

describe('idleTimeout', () => {
  it('forgets series that stop being recorded, reuses their storage, and keeps bound and active ones', () => {
    vi.useFakeTimers();
    try {
      const latency = distribution('r23.req.duration', {
        tags: ['user'],
        reporterOptions: { idleTimeout: 10_000, buckets: [1, 10] },
      });
      const t = make([latency]);
      const pinned = t.bind(latency, { user: 'bound' });
      execute('r23.req', { duration: 5 }, { user: 'gone' });
      execute('r23.req', { duration: 5 }, { user: 'active' });
      pinned.record(5);
      for (let i = 0; i < 4; i++) {
        vi.advanceTimersByTime(5_000);
        execute('r23.req', { duration: 5 }, { user: 'active' });
      }
      const body = t.scrape();
      const users = [...samples(body).keys()].filter((k) => k.startsWith('r23_req_duration_count'));
      expect(users).toEqual([
        'r23_req_duration_count{user="active"}',
        'r23_req_duration_count{user="bound"}',
      ]);
      expect(sample(body, 'telemeter_series{metric="r23.req.duration"}')).toBe(2);
      // A returning tag set starts from zero in the reused slot.
      execute('r23.req', { duration: 50 }, { user: 'gone' });
      const again = t.scrape();
      expect(sample(again, 'r23_req_duration_count{user="gone"}')).toBe(1);
      expect(sample(again, 'r23_req_duration_bucket{user="gone",le="10.0"}')).toBe(0);
      expect(sample(again, 'r23_req_duration_count{user="active"}')).toBe(5);
    } finally {
      vi.useRealTimers();
    }
  });

  it('keeps a bound series when events with its tags are recorded too, so the handle never writes another series', () => {
    vi.useFakeTimers();
    try {
      const hits = sum('r24.req.hits', { tags: ['user'], reporterOptions: { idleTimeout: 10_000 } });
      const t = make([hits]);
      const handle = t.bind(hits, { user: 'bound' });
      // The recorder stamps the series' last-use generation on each event: that must not unpin it.
      execute('r24.req', { hits: 1 }, { user: 'bound' });
      vi.advanceTimersByTime(20_000);
      execute('r24.req', { hits: 100 }, { user: 'other' });
      handle.record(10);
      const body = t.scrape();
      expect(sample(body, 'r24_req_hits_total{user="bound"}')).toBe(11);
      expect(sample(body, 'r24_req_hits_total{user="other"}')).toBe(100);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('scrape order', () => {
  it('sorts series by labels in steps that yield, with the same result as one sort', () => {
    const t = make([counter('r24.x.v', { tags: ['k'] })]);
    const keys = Array.from({ length: 5000 }, (_, i) => `key-${(i * 7919) % 5000}`);
    for (const k of keys) execute('r24.x', { v: 1 }, { k });
    const family = t.metricFamilies.find((f) => f.name === 'r24_x_v_total')!;
    const steps = family.seriesOrder();
    let step = steps.next();
    while (!step.done) step = steps.next();
    const labels = Array.from(step.value, (i) => family.labelBlock(i));
    expect(labels).toEqual([...labels].sort());
    expect(new Set(step.value).size).toBe(5000);
    const lines = t
      .scrape()
      .split('\n')
      .filter((l) => l.startsWith('r24_x_v_total{'));
    expect(lines).toEqual([...lines].sort());
  });
});
