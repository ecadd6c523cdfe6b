import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { counter, distribution, execute, sum, Telemeter } from '../../src/index.js';
import { samples } from '../support/samples.js';

const BOUNDS = [0, 1, 2.5, 10, 100];

const event = fc.record({
  metric: fc.integer({ min: 0, max: 2 }),
  route: fc.string({ maxLength: 6 }),
  status: fc.constantFrom(200, 404, '500'),
  value: fc.double({ min: -1e6, max: 1e6, noNaN: true }),
});

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

let run = 0;

describe('property: scrape() agrees with a plain model of the events', () => {
  it('counts, sums and cumulative buckets match for random names, tags and values', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('a', 'b_c', 'Node', 'x9'), { minLength: 1, maxLength: 3 }),
        fc.array(event, { maxLength: 200 }),
        (segments, events) => {
          const prefix = `prop${++run}.${segments.join('.')}`;
          const name = prefix.replace(/\./g, '_');
          const telemeter = new Telemeter({
            metrics: [
              counter(`${prefix}.count`, {
                eventName: `${prefix}.e0`,
                measurement: 'v',
                tags: ['route', 'status'],
              }),
              sum(`${prefix}.total`, {
                eventName: `${prefix}.e1`,
                measurement: 'v',
                tags: ['route'],
                reporterOptions: { prometheusType: 'gauge' },
              }),
              distribution(`${prefix}.dist`, {
                eventName: `${prefix}.e2`,
                measurement: 'v',
                tags: ['status'],
                reporterOptions: { buckets: BOUNDS },
              }),
            ],
            selfMetrics: false,
          });
          try {
            const counts = new Map<string, number>();
            const sums = new Map<string, number>();
            const hist = new Map<string, { buckets: number[]; sum: number; count: number }>();
            for (const e of events) {
              execute(`${prefix}.e${e.metric}`, { v: e.value }, { route: e.route, status: e.status });
              if (e.metric === 0) {
                const key = `route="${escapeLabel(e.route)}",status="${e.status}"`;
                counts.set(key, (counts.get(key) ?? 0) + 1);
              } else if (e.metric === 1) {
                const key = `route="${escapeLabel(e.route)}"`;
                sums.set(key, (sums.get(key) ?? 0) + e.value);
              } else {
                const key = `status="${e.status}"`;
                const h = hist.get(key) ?? { buckets: BOUNDS.map(() => 0), sum: 0, count: 0 };
                BOUNDS.forEach((b, i) => {
                  if (e.value <= b) h.buckets[i]++;
                });
                h.sum += e.value;
                h.count++;
                hist.set(key, h);
              }
            }
            const got = samples(telemeter.scrape());
            const series = (suffix: string) =>
              [...got.keys()].filter((k) => k.startsWith(`${name}_${suffix}{`));
            expect(series('count_total')).toHaveLength(counts.size);
            for (const [key, n] of counts) expect(got.get(`${name}_count_total{${key}}`)).toBe(n);
            expect(series('total')).toHaveLength(sums.size);
            for (const [key, s] of sums) expect(got.get(`${name}_total{${key}}`)).toBe(s);
            for (const [key, h] of hist) {
              BOUNDS.forEach((b, i) => {
                const le = Number.isInteger(b) ? `${b}.0` : String(b);
                expect(got.get(`${name}_dist_bucket{${key},le="${le}"}`)).toBe(h.buckets[i]);
              });
              expect(got.get(`${name}_dist_bucket{${key},le="+Inf"}`)).toBe(h.count);
              expect(got.get(`${name}_dist_count{${key}}`)).toBe(h.count);
              expect(got.get(`${name}_dist_sum{${key}}`)).toBe(h.sum);
            }
          } finally {
            telemeter.close();
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
