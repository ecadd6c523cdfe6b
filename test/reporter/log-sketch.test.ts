import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LogSketch, MIN_INDEXABLE, SketchMapping } from '../../src/reporter/log-sketch.js';
import { codeGenerationAllowed } from '../support/code-generation.js';

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

  it('counts in 32-bit bins and moves a store to float64 before a count would wrap or lose a fraction', () => {
    const sketch = new LogSketch(0.01);
    sketch.add(5);
    expect(sketch.positive.counts).toBeInstanceOf(Uint32Array);
    const [bin] = binsOf(sketch);
    sketch.positive.add(bin, 2 ** 32 - 2);
    expect(sketch.positive.counts).toBeInstanceOf(Uint32Array);
    sketch.positive.add(bin, 1);
    expect(sketch.positive.counts).toBeInstanceOf(Float64Array);
    expect(binsOf(sketch)).toEqual([bin, 2 ** 32]);

    const merged = new LogSketch(0.01);
    merged.positive.add(bin, 1.5);
    expect(binsOf(merged)).toEqual([bin, 1.5]);
  });

  it('keeps every count when a full range collapses bins whose sum passes 2^32', () => {
    const sketch = new LogSketch(0.01, 4);
    sketch.positive.add(10, 2 ** 32 - 1);
    sketch.positive.add(11, 2 ** 32 - 1);
    // A new top bin pushes 10 and 11 below the 4-bin range: both fold into its lowest bin.
    sketch.positive.add(15, 1);
    const bins = binsOf(sketch);
    expect(bins).toEqual([12, 2 ** 33 - 2, 15, 1]);
  });

  it('shares the constants of an accuracy and holds no bins before the first value', () => {
    const a = new LogSketch(0.01);
    const b = new LogSketch(0.01);
    expect(a.mapping).toBe(b.mapping);
    expect(a.positive.counts.length).toBe(0);
    expect(a.negative.counts).toBe(b.positive.counts);
    a.add(0.999); // Math.ceil gives its bin index as -0
    const fields = a.positive as unknown as { minUsed: number; maxUsed: number };
    expect(Object.is(fields.minUsed, 0) && Object.is(fields.maxUsed, 0)).toBe(true);
  });

  it('puts a value in the same bin whether it goes through add or through the generated index source', () => {
    if (!codeGenerationAllowed) {
      // Recorders then call the store with the value, which computes the bin with indexOf itself.
      expect(() => new Function('return 1')).toThrow(EvalError);
      return;
    }
    for (const accuracy of [0.01, 0.001, 0.05]) {
      const mapping = SketchMapping.of(accuracy);
      const generated = new Function('magnitude', `return ${mapping.indexSource('magnitude')};`) as (
        magnitude: number,
      ) => number;
      fc.assert(
        fc.property(
          fc.oneof(
            fc.double({ min: 1e-300, max: 1e300, noNaN: true }),
            fc.double({ min: 0.9, max: 1.1, noNaN: true }),
            fc.constantFrom(1, 1 - 1e-12, 1 + 1e-12, Number.MAX_VALUE, 1e-300 * 1.0000001),
          ),
          (magnitude) => {
            fc.pre(magnitude > MIN_INDEXABLE);
            expect(Object.is(generated(magnitude), mapping.indexOf(magnitude))).toBe(true);
          },
        ),
        { numRuns: 2000 },
      );
    }
  });

  it('returns NaN when empty', () => {
    expect(new LogSketch(0.01).quantile(0.5)).toBeNaN();
  });
});

/** [index, count, ...] of a sketch's positive bins that hold something. */
function binsOf(sketch: LogSketch): number[] {
  const { counts, offset } = sketch.positive;
  const pairs: number[] = [];
  counts.forEach((count, i) => {
    if (count !== 0) pairs.push(i + offset, count);
  });
  return pairs;
}
