import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { generate, refuseCodeGenerationForTests } from '../../src/compile.js';
import {
  counter,
  distribution,
  execute,
  lastValue,
  listHandlers,
  type MetricDefinition,
  setLogger,
  sum,
  summary,
  Telemeter,
} from '../../src/index.js';
import { codeGenerationAllowed } from '../support/code-generation.js';

/**
 * Where code generation is refused (Cloudflare Workers, a strict CSP, `--disallow-code-generation-from-strings`),
 * every generated function has a plain counterpart. Both must give the same scrape for the same events: this
 * builds one Telemeter each way from the same definitions and feeds them the same random events.
 */

let run = 0;

function definitions(prefix: string): MetricDefinition[] {
  const tags = ['route', 'status'];
  return [
    counter(`${prefix}.req.count`, { eventName: `${prefix}.req`, measurement: 'duration', tags }),
    sum(`${prefix}.req.bytes`, { tags: ['route'], unit: ['byte', 'kilobyte'] }),
    sum(`${prefix}.req.delta`, {
      eventName: `${prefix}.req`,
      measurement: (m) => m.bytes,
      tags: ['status'],
      reporterOptions: { prometheusType: 'gauge', idleTimeout: 10_000 },
    }),
    lastValue(`${prefix}.req.last`, {
      eventName: `${prefix}.req`,
      measurement: 'duration',
      tags: ['route'],
      tagValues: (md) => ({ ...md, route: typeof md.route === 'string' ? md.route.toUpperCase() : md.route }),
    }),
    distribution(`${prefix}.req.duration`, {
      tags,
      unit: ['native', 'millisecond'],
      keep: (md) => md.status !== 500,
      reporterOptions: { buckets: [-1, 0, 0.5, 1, 2.5, 10, 100, 1000], idleTimeout: 10_000 },
    }),
    distribution(`${prefix}.req.native`, {
      eventName: `${prefix}.req`,
      measurement: 'duration',
      tags: ['route'],
      unit: ['native', 'millisecond'],
      reporterOptions: {
        histogram: 'both',
        buckets: [1, 10],
        nativeHistogram: { maxBucketCount: 4 },
        idleTimeout: 10_000,
      },
    }),
    distribution(`${prefix}.req.size`, {
      eventName: `${prefix}.req`,
      measurement: 'bytes',
      // More than 16 bounds: the store's binary search, against the generated comparison tree.
      reporterOptions: { buckets: { exponential: { start: 1, factor: 2, count: 20 } } },
    }),
    summary(`${prefix}.req.latency`, {
      eventName: `${prefix}.req`,
      measurement: 'duration',
      tags: ['route'],
      unit: ['native', 'microsecond'],
      drop: (md) => md.route === 'skip',
    }),
  ];
}

const measurementValue = fc.oneof(
  fc.double({ min: -1e9, max: 1e9, noNaN: true }),
  fc.integer({ min: -5, max: 5_000_000 }),
  fc.constantFrom<unknown>(
    Number.NaN,
    Number.POSITIVE_INFINITY,
    '12',
    undefined,
    null,
    false,
    10n,
    -0,
    2 ** 53,
    { n: 1 },
  ),
);

const step = fc.oneof(
  fc.record({
    kind: fc.constant('event' as const),
    duration: measurementValue,
    bytes: measurementValue,
    route: fc.constantFrom<unknown>('/a', '/b', 'skip', '', 'é"\\\n', 7, true, undefined, null, Number.NaN),
    status: fc.constantFrom<unknown>(200, '200', 404, 500, 10n, undefined, { s: 1 }),
  }),
  fc.record({
    kind: fc.constant('bound' as const),
    value: measurementValue,
    route: fc.constantFrom('/a', '/c'),
  }),
  fc.record({ kind: fc.constant('time' as const), ms: fc.integer({ min: 1, max: 12_000 }) }),
);

function build(prefix: string, plain: boolean): Telemeter {
  refuseCodeGenerationForTests(plain);
  try {
    return new Telemeter({ metrics: definitions(prefix), globalTags: { service: 'shop' } });
  } finally {
    refuseCodeGenerationForTests(false);
  }
}

afterEach(() => {
  refuseCodeGenerationForTests(false);
  vi.useRealTimers();
  setLogger(null);
});

describe('the plain recording path', () => {
  it('is chosen only when code generation is refused: a broken generated source throws', () => {
    // A process that refuses code generation refuses before it parses.
    if (codeGenerationAllowed) expect(() => generate(['x'], 'return (x', [1])).toThrow(SyntaxError);
    else expect(generate(['x'], 'return (x', [1])).toBeUndefined();
    refuseCodeGenerationForTests(true);
    expect(generate(['x'], 'return x', [1])).toBeUndefined();
    refuseCodeGenerationForTests(false);
    expect(generate<number>(['x'], 'return x + 1', [1])).toBe(codeGenerationAllowed ? 2 : undefined);
  });

  it('is what a Telemeter uses when code generation is refused, from the bus down', () => {
    const prefix = `plain${++run}`;
    const generated = build(prefix, false);
    const plain = build(prefix, true);
    try {
      const sources = listHandlers(`${prefix}.req`).map((h) => h.handler.toString());
      expect(sources).toHaveLength(2);
      expect(sources.filter((s) => s.includes('/* handler'))).toHaveLength(codeGenerationAllowed ? 1 : 0);
    } finally {
      generated.close();
      plain.close();
    }
  });

  it('scrapes exactly what the generated path scrapes, for the same random events', () => {
    setLogger({ warn: () => {}, error: () => {} });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 120 }), (steps) => {
        vi.useFakeTimers();
        const prefix = `plain${++run}`;
        const generated = build(prefix, false);
        const plain = build(prefix, true);
        try {
          const handles = [generated, plain].map((t) => ({
            a: t.bind(`${prefix}.req.duration`, { route: '/a', status: 200 }),
            c: t.bind(`${prefix}.req.latency`, { route: '/c' }),
            count: t.bind(`${prefix}.req.count`, { route: '/a', status: '200' }),
          }));
          for (const s of steps) {
            if (s.kind === 'event') {
              execute(
                `${prefix}.req`,
                { duration: s.duration, bytes: s.bytes },
                { route: s.route, status: s.status },
              );
            } else if (s.kind === 'bound') {
              for (const h of handles) {
                const handle = s.route === '/a' ? h.a : h.c;
                handle.record(s.value as number);
                h.count.record();
              }
            } else vi.advanceTimersByTime(s.ms);
          }
          for (const format of ['text', 'openmetrics'] as const) {
            expect(plain.scrape({ format })).toBe(generated.scrape({ format }));
          }
          // Native buckets travel only in protobuf (the clock is faked: created times are equal too).
          expect(Buffer.concat([...plain.renderProtobuf()])).toEqual(
            Buffer.concat([...generated.renderProtobuf()]),
          );
        } finally {
          generated.close();
          plain.close();
          vi.useRealTimers();
        }
      }),
      { numRuns: 120 },
    );
  });
});

describe('the plain recording path, case by case', () => {
  function both(definitions: (prefix: string) => MetricDefinition[]): { prefix: string; pair: Telemeter[] } {
    const prefix = `plaincase${++run}`;
    const pair = [false, true].map((plain) => {
      refuseCodeGenerationForTests(plain);
      try {
        return new Telemeter({ metrics: definitions(prefix) });
      } finally {
        refuseCodeGenerationForTests(false);
      }
    });
    return { prefix, pair };
  }

  function dropped(body: string, reason: string): number {
    return body
      .split('\n')
      .filter(
        (line) => line.startsWith('telemeter_dropped_events_total{') && line.includes(`reason="${reason}"`),
      )
      .reduce((total, line) => total + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
  }

  it('drops an event whose keep, measurement or tagValues function throws, or whose tagValues is not an object', () => {
    setLogger({ warn: () => {}, error: () => {} });
    const fail = () => {
      throw new Error('user code');
    };
    const { prefix, pair } = both((p) => [
      counter(`${p}.a.count`, {
        eventName: `${p}.e`,
        measurement: 'v',
        keep: (md) => (md.k === 'throw' ? fail() : true),
      }),
      sum(`${p}.b.total`, { eventName: `${p}.e`, measurement: (m, md) => (md.k === 'throw' ? fail() : m.v) }),
      lastValue(`${p}.c.last`, {
        eventName: `${p}.e`,
        measurement: 'v',
        tags: ['k'],
        tagValues: (md) =>
          (md.k === 'throw' ? fail() : md.k === 'null' ? null : md.k === 'number' ? 42 : md) as never,
      }),
    ]);
    try {
      for (const k of ['throw', 'null', 'number', 'fine']) execute(`${prefix}.e`, { v: 2 }, { k });
      const [generated, plain] = pair.map((t) => t.scrape());
      expect(plain).toBe(generated);
      expect([dropped(plain, 'keep_error'), dropped(plain, 'measurement_error')]).toEqual([1, 1]);
      expect(dropped(plain, 'tag_values_error')).toBe(3);
      expect(plain).toContain(`${prefix}_c_last{k="fine"} 2\n`);
    } finally {
      for (const t of pair) t.close();
    }
  });

  it('keeps a series that is recorded to within its idle timeout, and forgets one that is not', () => {
    vi.useFakeTimers();
    const { prefix, pair } = both((p) => [
      sum(`${p}.req.bytes`, { tags: ['route'], reporterOptions: { idleTimeout: 10_000 } }),
    ]);
    try {
      execute(`${prefix}.req`, { bytes: 1 }, { route: '/idle' });
      for (let second = 0; second < 40; second += 4) {
        execute(`${prefix}.req`, { bytes: 1 }, { route: '/busy' });
        vi.advanceTimersByTime(4_000);
      }
      const [generated, plain] = pair.map((t) => t.scrape());
      expect(plain).toBe(generated);
      expect(plain).toContain(`${prefix}_req_bytes_total{route="/busy"} 10\n`);
      expect(plain).not.toContain('/idle');
    } finally {
      for (const t of pair) t.close();
    }
  });

  it('puts values in the buckets of a distribution with a -0 bound, 0 and -0 included', () => {
    const { prefix, pair } = both((p) => [
      distribution(`${p}.t.delta`, { reporterOptions: { buckets: [-1, -0, 1] } }),
    ]);
    try {
      for (const delta of [-2, -1, -0.5, -0, 0, 0.5, 2]) execute(`${prefix}.t`, { delta });
      const [generated, plain] = pair.map((t) => t.scrape());
      expect(plain).toBe(generated);
      expect(plain).toContain(
        `${prefix}_t_delta_bucket{le="-1.0"} 2\n${prefix}_t_delta_bucket{le="-0.0"} 5\n`,
      );
    } finally {
      for (const t of pair) t.close();
    }
  });
});
