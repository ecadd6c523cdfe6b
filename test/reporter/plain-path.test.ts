import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { refuseCodeGenerationForTests } from '../../src/compile.js';
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
