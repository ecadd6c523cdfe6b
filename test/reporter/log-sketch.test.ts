import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LogSketch } from '../../src/reporter/log-sketch.js';

function nearestRank(sorted: number[], q: number): number {
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)];
}

describe('LogSketch', () => {
  it('keeps every quantile within its relative accuracy, for any positive or negative data', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.double({ min: -1e9, max: 1e9, noNaN: true }).filter((x) => Math.abs(x) > 1e-6 || x === 0),
          {
            minLength: 1,
            maxLength: 300,
          },
        ),
        fc.constantFrom(0, 0.25, 0.5, 0.9, 0.99, 1),
        (values, q) => {
          const sketch = new LogSketch(0.01);
          for (const v of values) sketch.add(v);
          const exact = nearestRank(
            [...values].sort((a, b) => a - b),
            q,
          );
          const estimate = sketch.quantile(q);
          if (exact === 0) expect(estimate).toBe(0);
          else expect(Math.abs(estimate - exact) / Math.abs(exact)).toBeLessThanOrEqual(0.01 + 1e-12);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('merges exactly: two halves merged answer like one sketch of everything', () => {
    const whole = new LogSketch(0.02);
    const left = new LogSketch(0.02);
    const right = new LogSketch(0.02);
    for (let i = 1; i <= 5000; i++) {
      const v = (i * 7919) % 10007;
      whole.add(v);
      (i % 2 === 0 ? left : right).add(v);
    }
    left.merge(right);
    expect(left.count).toBe(whole.count);
    for (const q of [0.1, 0.5, 0.9, 0.999]) expect(left.quantile(q)).toBe(whole.quantile(q));
    expect(() => left.merge(new LogSketch(0.01))).toThrow(/different accuracy/);
  });

  it('stays within its bin budget over a huge dynamic range', () => {
    const sketch = new LogSketch(0.01, 256);
    for (let e = -300; e <= 300; e++) sketch.add(10 ** e);
    expect(sketch.positive.counts.length).toBeLessThanOrEqual(256);
    expect(sketch.count).toBe(601);
    // The top of the range keeps full accuracy; only the smallest magnitudes collapsed.
    expect(Math.abs(sketch.quantile(1) - 1e300) / 1e300).toBeLessThanOrEqual(0.01);
  });

  it('returns NaN when empty', () => {
    expect(new LogSketch(0.01).quantile(0.5)).toBeNaN();
  });
});
