import { context, ROOT_CONTEXT, TraceFlags, trace } from '@opentelemetry/api';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { refuseCodeGenerationForTests } from '../../src/compile.js';
import {
  counter,
  distribution,
  type Exemplar,
  type ExemplarFunction,
  execute,
  type HistogramFamily,
  lastValue,
  type ScalarFamily,
  setLogger,
  sum,
  summary,
  type Telemeter,
} from '../../src/index.js';
import { openTelemetryExemplar } from '../../src/metrics/opentelemetry-exemplar.js';
import { sample } from '../support/samples.js';
import { closedAfterEach } from '../support/telemeters.js';

const { make } = closedAfterEach();
afterEach(() => {
  refuseCodeGenerationForTests(false);
  vi.useRealTimers();
  setLogger(null);
});

function scalar(t: Telemeter, name: string): ScalarFamily {
  const found = t.metricFamilies.find((f) => f.name === name);
  if (found?.kind !== 'counter' && found?.kind !== 'gauge') throw new Error(`no scalar family ${name}`);
  return found;
}
function histogram(t: Telemeter, name: string): HistogramFamily {
  const found = t.metricFamilies.find((f) => f.name === name);
  if (found?.kind !== 'histogram') throw new Error(`no histogram family ${name}`);
  return found;
}
function labelsOf(exemplar: Exemplar | undefined): Record<string, string> | undefined {
  if (exemplar === undefined) return undefined;
  const labels: Record<string, string> = {};
  exemplar.forEachLabel((name, value) => {
    labels[name] = value;
  });
  return labels;
}
const traceOf: ExemplarFunction = (metadata) =>
  metadata.trace === undefined ? undefined : { trace_id: String(metadata.trace) };

describe('the exemplar option', () => {
  it('is refused at start-up on what OpenMetrics 1.0 forbids exemplars on, naming the metric and the option', () => {
    expect(() => lastValue('ex1.a.b', { exemplar: traceOf })).toThrow(
      /metric "ex1\.a\.b": option exemplar applies to counters, sums exported as counters and distributions only, not to a last_value/,
    );
    expect(() => summary('ex1.a.c', { exemplar: traceOf })).toThrow(
      /"ex1\.a\.c": option exemplar .* summary/,
    );
    expect(() => sum('ex1.a.d', { exemplar: traceOf, reporterOptions: { prometheusType: 'gauge' } })).toThrow(
      /"ex1\.a\.d": option exemplar .* sum with prometheusType: 'gauge'/,
    );
    for (const wrong of ['otel', true, 1, {}, null]) {
      expect(() => counter('ex1.a.e', { exemplar: wrong as never })).toThrow(
        /metric "ex1\.a\.e": option exemplar must be a function \(metadata, measurements\) => labels \| undefined, or 'opentelemetry'/,
      );
    }
    expect(counter('ex1.a.f', { exemplar: traceOf }).exemplar).toBe(traceOf);
    expect(sum('ex1.a.g', { exemplar: traceOf }).exemplar).toBe(traceOf);
    expect(distribution('ex1.a.h').exemplar).toBeUndefined();
  });

  it("'opentelemetry' without @opentelemetry/api fails at start-up with the fix", () => {
    const fail = (why: string): never => {
      throw new Error(`option exemplar ${why}`);
    };
    expect(() =>
      openTelemetryExemplar(fail, () => {
        throw new Error("Cannot find module '@opentelemetry/api'");
      }),
    ).toThrow(
      /'opentelemetry' needs the package @opentelemetry\/api, which could not be loaded \(Cannot find module '@opentelemetry\/api'\)\. Install it/,
    );
  });
});

describe('recording exemplars', () => {
  it('keeps the last exemplar of each counter series with the increment and the time it was recorded', () => {
    vi.useFakeTimers({ toFake: ['Date'], now: 1_700_000_000_123 });
    const t = make([
      counter('ex2.req.count', {
        eventName: 'ex2.req',
        measurement: 'duration',
        tags: ['route'],
        exemplar: traceOf,
      }),
      sum('ex2.req.bytes', { eventName: 'ex2.req', measurement: 'bytes', exemplar: traceOf }),
      counter('ex2.req.plain', { eventName: 'ex2.req', measurement: 'duration' }),
    ]);
    execute('ex2.req', { duration: 1, bytes: 100 }, { route: '/a', trace: 'aaa' });
    vi.setSystemTime(1_700_000_001_456);
    execute('ex2.req', { duration: 1, bytes: 250 }, { route: '/a', trace: 'bbb' });
    execute('ex2.req', { duration: 1, bytes: 7 }, { route: '/b' });
    const requests = scalar(t, 'ex2_req_count_total');
    const bytes = scalar(t, 'ex2_req_bytes_total');
    expect(requests.exemplars).toBe(true);
    const a = requests.labelValues(0)[0] === '/a' ? 0 : 1;
    expect(labelsOf(requests.exemplar(a))).toEqual({ trace_id: 'bbb' });
    expect(requests.exemplar(a)).toMatchObject({
      labelBlock: 'trace_id="bbb"',
      value: 1,
      timestamp: 1_700_000_001_456,
    });
    // No exemplar for the event without a trace: the series has none, rather than an empty one.
    expect(requests.exemplar(1 - a)).toBeUndefined();
    // A sum's exemplar carries the amount added; an event without one keeps the last.
    expect(bytes.value(0)).toBe(357);
    expect(bytes.exemplar(0)).toMatchObject({ labelBlock: 'trace_id="bbb"', value: 250 });
    const plain = scalar(t, 'ex2_req_plain_total');
    expect(plain.exemplars).toBe(false);
    expect(plain.exemplar(0)).toBeUndefined();
  });

  it('keeps the last exemplar of each histogram bucket, with the observed value, which lies in that bucket', () => {
    const t = make([
      distribution('ex3.req.duration', {
        tags: ['route'],
        unit: ['millisecond', 'second'],
        reporterOptions: { buckets: [0.1, 1] },
        exemplar: (metadata, measurements) => ({
          trace_id: String(metadata.trace),
          span_id: `s${measurements.duration}`,
        }),
      }),
    ]);
    execute('ex3.req', { duration: 50 }, { route: '/a', trace: 't1' });
    execute('ex3.req', { duration: 100 }, { route: '/a', trace: 't2' });
    execute('ex3.req', { duration: 400 }, { route: '/a', trace: 't3' });
    execute('ex3.req', { duration: 5000 }, { route: '/a', trace: 't4' });
    const f = histogram(t, 'ex3_req_duration');
    expect(f.exemplar(0, 0)).toMatchObject({ labelBlock: 'trace_id="t2",span_id="s100"', value: 0.1 });
    expect(f.exemplar(0, 1)).toMatchObject({ labelBlock: 'trace_id="t3",span_id="s400"', value: 0.4 });
    expect(f.exemplar(0, 2)).toMatchObject({ labelBlock: 'trace_id="t4",span_id="s5000"', value: 5 });
    expect(f.count(0)).toBe(4);
  });

  it('gives the same exemplars on the generated and the plain recording paths', () => {
    vi.useFakeTimers({ toFake: ['Date'], now: 1_700_000_000_000 });
    const build = (prefix: string, plain: boolean) => {
      refuseCodeGenerationForTests(plain);
      try {
        return make(
          [
            counter(`${prefix}.req.count`, {
              eventName: `${prefix}.req`,
              measurement: 'v',
              exemplar: traceOf,
            }),
            distribution(`${prefix}.req.v`, {
              tags: ['k'],
              reporterOptions: { buckets: [1, 2, 3] },
              exemplar: (metadata) =>
                metadata.trace === 'throw'
                  ? (() => {
                      throw new Error('no');
                    })()
                  : traceOf(metadata, {}),
            }),
          ],
          { logger: { warn: () => {}, error: () => {} } },
        );
      } finally {
        refuseCodeGenerationForTests(false);
      }
    };
    const generated = build('ex4g', false);
    const plain = build('ex4p', true);
    for (let i = 0; i < 200; i++) {
      const trace = i % 7 === 0 ? 'throw' : i % 5 === 0 ? undefined : `t${i}`;
      vi.setSystemTime(1_700_000_000_000 + i);
      for (const prefix of ['ex4g', 'ex4p']) {
        execute(`${prefix}.req`, { v: (i * 37) % 5 }, { k: i % 3, trace });
      }
    }
    const read = (t: Telemeter, prefix: string) => {
      const h = histogram(t, `${prefix}_req_v`);
      const c = scalar(t, `${prefix}_req_count_total`);
      const out: unknown[] = [c.exemplar(0)];
      for (let s = 0; s < h.seriesIdLimit; s++)
        for (let b = 0; b < h.buckets; b++) out.push(s, b, h.exemplar(s, b));
      return JSON.parse(JSON.stringify(out));
    };
    expect(read(plain, 'ex4p')).toEqual(read(generated, 'ex4g'));
    expect(read(generated, 'ex4g').filter((x: unknown) => typeof x === 'object' && x !== null).length).toBe(
      1 + 3 * 4,
    );
  });

  it('forgets the exemplars of an expired series, so a series that takes its id starts without', () => {
    vi.useFakeTimers();
    const t = make([
      counter('ex5.req.count', {
        eventName: 'ex5.req',
        measurement: 'v',
        tags: ['k'],
        exemplar: traceOf,
        reporterOptions: { idleTimeout: 1000 },
      }),
    ]);
    execute('ex5.req', { v: 1 }, { k: 'old', trace: 'x' });
    const f = scalar(t, 'ex5_req_count_total');
    expect(f.exemplar(0)).toBeDefined();
    vi.advanceTimersByTime(2000);
    t.refreshComputedFamilies();
    execute('ex5.req', { v: 1 }, { k: 'new' });
    expect(f.labelValues(0)).toEqual(['new']);
    expect(f.exemplar(0)).toBeUndefined();
  });
});

describe('exemplars that cannot be exposed', () => {
  const hostile: [string, unknown, string][] = [
    ['a string', 'trace', 'invalid_exemplar'],
    ['null', null, 'invalid_exemplar'],
    ['an array', ['a'], 'invalid_exemplar'],
    ['a number value', { trace_id: 42 }, 'invalid_exemplar'],
    ['an undefined value', { trace_id: undefined }, 'invalid_exemplar'],
    ['an invalid label name', { 'trace-id': 'a' }, 'invalid_exemplar'],
    ['a reserved label name', { __name__: 'a' }, 'invalid_exemplar'],
    ['129 code points', { trace_id: 'x'.repeat(121) }, 'exemplar_too_long'],
    ['a megabyte', { trace_id: 'x'.repeat(1 << 20) }, 'exemplar_too_long'],
    ['121 astral code points', { trace_id: '😀'.repeat(121) }, 'exemplar_too_long'],
    [
      'an object whose getter throws',
      {
        get trace_id() {
          throw new Error('getter');
        },
      },
      'exemplar_error',
    ],
    [
      'a proxy that throws',
      new Proxy(
        {},
        {
          ownKeys() {
            throw new Error('proxy');
          },
        },
      ),
      'exemplar_error',
    ],
  ];

  it.each(hostile)('%s: the event is recorded, the exemplar left out and counted', (_, returned, reason) => {
    const warnings: unknown[] = [];
    const t = make(
      [
        counter('ex6.req.count', {
          eventName: 'ex6.req',
          measurement: 'v',
          exemplar: (metadata) => (metadata.good ? { trace_id: 'good' } : (returned as never)),
        }),
      ],
      { selfMetrics: true, logger: { warn: (...args: unknown[]) => warnings.push(args), error: () => {} } },
    );
    execute('ex6.req', { v: 1 }, { good: true });
    execute('ex6.req', { v: 1 }, {});
    execute('ex6.req', { v: 1 }, {});
    const f = scalar(t, 'ex6_req_count_total');
    expect(f.value(0)).toBe(3);
    // The one it had stays.
    expect(f.exemplar(0)).toMatchObject({ labelBlock: 'trace_id="good"' });
    const body = t.scrape();
    expect(sample(body, `telemeter_exemplars_dropped_total{metric="ex6.req.count",reason="${reason}"}`)).toBe(
      2,
    );
    expect(body).not.toContain('telemeter_dropped_events_total{');
    expect(JSON.stringify(warnings)).toContain(`metric \\"ex6.req.count\\" left out an exemplar (${reason}`);
  });

  it('a throwing exemplar function costs the exemplar only, and its error is logged once', () => {
    const warnings: unknown[][] = [];
    const t = make(
      [
        distribution('ex7.req.v', {
          reporterOptions: { buckets: [1] },
          exemplar: () => {
            throw new TypeError('tracer gone');
          },
        }),
      ],
      { selfMetrics: true, logger: { warn: (...args: unknown[]) => warnings.push(args), error: () => {} } },
    );
    expect(() => execute('ex7.req', { v: 0.5 }, {})).not.toThrow();
    execute('ex7.req', { v: 3 }, {});
    const f = histogram(t, 'ex7_req_v');
    expect([f.bucketCount(0, 0), f.bucketCount(0, 1), f.sum(0)]).toEqual([1, 1, 3.5]);
    expect(f.exemplar(0, 0)).toBeUndefined();
    expect(
      sample(t.scrape(), 'telemeter_exemplars_dropped_total{metric="ex7.req.v",reason="exemplar_error"}'),
    ).toBe(2);
    expect(warnings).toHaveLength(1);
    expect((warnings[0][0] as { err: Error }).err.message).toBe('tracer gone');
  });

  it('accepts exactly 128 code points, an exemplar without labels, and writes lone surrogates as U+FFFD', () => {
    const returned: Record<string, string>[] = [
      { trace_id: 'x'.repeat(120) },
      { trace_id: '😀'.repeat(120) },
      {},
      { trace_id: 'a\uD800b', note: 'line\n"quoted"\\' },
    ];
    let i = 0;
    const t = make([
      counter('ex8.req.count', { eventName: 'ex8.req', measurement: 'v', exemplar: () => returned[i] }),
    ]);
    const f = scalar(t, 'ex8_req_count_total');
    const blocks: string[] = [];
    for (i = 0; i < returned.length; i++) {
      execute('ex8.req', { v: 1 }, {});
      blocks.push(f.exemplar(0)!.labelBlock);
    }
    expect(blocks).toEqual([
      `trace_id="${'x'.repeat(120)}"`,
      `trace_id="${'😀'.repeat(120)}"`,
      '',
      'trace_id="a\uFFFDb",note="line\\n\\"quoted\\"\\\\"',
    ]);
    expect(labelsOf(f.exemplar(0))).toEqual({ trace_id: 'a\uFFFDb', note: 'line\n"quoted"\\' });
  });

  it('a metric without the option keeps no exemplars, and no exemplar self-metric appears', () => {
    const t = make([counter('ex9.req.count', { eventName: 'ex9.req', measurement: 'v' })], {
      selfMetrics: true,
    });
    execute('ex9.req', { v: 1 }, {});
    expect(t.metricFamilies.map((f) => f.name)).not.toContain('telemeter_exemplars_dropped_total');
    expect(scalar(t, 'ex9_req_count_total').exemplars).toBe(false);
  });
});

describe("exemplar: 'opentelemetry'", () => {
  /** The smallest context manager: a stack, enough for synchronous `context.with`. */
  function stackContextManager() {
    const stack = [ROOT_CONTEXT];
    return {
      active: () => stack[stack.length - 1],
      with(ctx: never, fn: (...args: unknown[]) => unknown, thisArg?: unknown, ...args: unknown[]) {
        stack.push(ctx);
        try {
          return fn.call(thisArg, ...args);
        } finally {
          stack.pop();
        }
      },
      bind: <T>(_ctx: unknown, target: T) => target,
      enable() {
        return this;
      },
      disable() {
        return this;
      },
    };
  }

  it('labels the exemplar with the trace and span ids of the active sampled span, and keeps none otherwise', () => {
    context.setGlobalContextManager(stackContextManager() as never);
    try {
      const t = make([
        counter('ex10.req.count', {
          eventName: 'ex10.req',
          measurement: 'v',
          tags: ['k'],
          exemplar: 'opentelemetry',
        }),
      ]);
      const inSpan = (traceFlags: number, traceId: string, k: string) => {
        const span = trace.wrapSpanContext({ traceId, spanId: '00f067aa0ba902b7', traceFlags });
        context.with(trace.setSpan(ROOT_CONTEXT, span), () => execute('ex10.req', { v: 1 }, { k }));
      };
      inSpan(TraceFlags.SAMPLED, '4bf92f3577b34da6a3ce929d0e0e4736', 'sampled');
      inSpan(TraceFlags.NONE, '4bf92f3577b34da6a3ce929d0e0e4737', 'unsampled');
      inSpan(TraceFlags.SAMPLED, '00000000000000000000000000000000', 'invalid');
      execute('ex10.req', { v: 1 }, { k: 'none' });
      const f = scalar(t, 'ex10_req_count_total');
      const byKey = Object.fromEntries(
        [0, 1, 2, 3].map((s) => [f.labelValues(s)[0], labelsOf(f.exemplar(s))]),
      );
      expect(byKey).toEqual({
        sampled: { trace_id: '4bf92f3577b34da6a3ce929d0e0e4736', span_id: '00f067aa0ba902b7' },
        unsampled: undefined,
        invalid: undefined,
        none: undefined,
      });
    } finally {
      context.disable();
    }
  });
});
