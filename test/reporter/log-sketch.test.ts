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

  it('counts values within 1e-300 of zero as zero, on both sides, and every other value by its sign', () => {
    const sketch = new LogSketch(0.01);
    for (const v of [0, -0, MIN_INDEXABLE, -MIN_INDEXABLE, MIN_INDEXABLE / 2]) sketch.add(v);
    expect(sketch.zeroCount).toBe(5);
    expect([sketch.quantile(0), sketch.quantile(1)]).toEqual([0, 0]);
    sketch.add(MIN_INDEXABLE * 1.5);
    sketch.add(-MIN_INDEXABLE * 1.5);
    expect(sketch.zeroCount).toBe(5);
    expect(sketch.quantile(0)).toBeLessThan(0);
    expect(sketch.quantile(1)).toBeGreaterThan(0);
    // The bin of a value counted as zero is 0, never the -Infinity of log(0).
    expect([sketch.mapping.binOf(0), sketch.mapping.binOf(-MIN_INDEXABLE)]).toEqual([0, 0]);
  });

  it('allocates 16 bins for its first value, however far from 1 that value is', () => {
    for (const value of [1, 1e-250, 1e250, 12345.678]) {
      const sketch = new LogSketch(0.01);
      sketch.add(value);
      expect(sketch.positive.counts.length).toBe(16);
      expect(binsOf(sketch)).toEqual([sketch.mapping.indexOf(value), 1]);
    }
    const small = new LogSketch(0.01, 4);
    small.add(3);
    expect(small.positive.counts.length).toBe(4);
  });

  it('grows a drifting range with head room, instead of reallocating its bins for each new extreme', () => {
    for (const step of [1, -1]) {
      const sketch = new LogSketch(0.01);
      let reallocations = 0;
      for (let i = 0; i < 300; i++) {
        const before = sketch.positive.counts;
        sketch.positive.add(1000 + step * i);
        if (sketch.positive.counts !== before) reallocations++;
      }
      expect(reallocations).toBeLessThanOrEqual(16);
      expect(Array.from(sketch.positive.counts).reduce((a, b) => a + b, 0)).toBe(300);
    }
  });

  it('counts a value below a full range in its lowest bin, from one bin below to far below', () => {
    const sketch = new LogSketch(0.01, 4);
    for (const index of [10, 11, 12, 13]) sketch.add(sketch.mapping.binValue(index));
    sketch.add(sketch.mapping.binValue(9));
    sketch.add(sketch.mapping.binValue(-500));
    expect(binsOf(sketch)).toEqual([10, 3, 11, 1, 12, 1, 13, 1]);
    expect(sketch.quantile(0)).toBe(sketch.mapping.binValue(10));
    expect(sketch.quantile(1)).toBe(sketch.mapping.binValue(13));
    // The range moves up with a new top, folding what falls out of it into the new lowest bin.
    sketch.add(sketch.mapping.binValue(15));
    expect(binsOf(sketch)).toEqual([12, 5, 13, 1, 15, 1]);
    sketch.add(sketch.mapping.binValue(11));
    expect(binsOf(sketch)).toEqual([12, 6, 13, 1, 15, 1]);
  });

  it('merges only the bins that hold counts, so empty head room never pushes real bins out of a full range', () => {
    const target = new LogSketch(0.01, 16);
    const source = new LogSketch(0.01, 16);
    target.add(target.mapping.binValue(85));
    target.add(target.mapping.binValue(90));
    source.add(source.mapping.binValue(100));
    expect(source.positive.counts.length).toBe(16); // bins 93 to 108, one of them used
    target.merge(source);
    expect(binsOf(target)).toEqual([85, 1, 90, 1, 100, 1]);
    expect(target.quantile(0)).toBe(target.mapping.binValue(85));
  });

  it('keeps a store that moved to float64 in float64, with every count, when its range grows', () => {
    const sketch = new LogSketch(0.01);
    sketch.positive.add(100, 2 ** 32);
    expect(sketch.positive.counts).toBeInstanceOf(Float64Array);
    sketch.positive.add(1000, 3);
    sketch.positive.add(-1000, 5);
    expect(sketch.positive.counts).toBeInstanceOf(Float64Array);
    expect(binsOf(sketch)).toEqual([-1000, 5, 100, 2 ** 32, 1000, 3]);
  });

  it('answers a rank past its bins (counts merged out of step) with a positive value at least its largest, never NaN', () => {
    const sketch = new LogSketch(0.01);
    for (const v of [5, 50]) sketch.add(v);
    sketch.count += 0.5;
    expect(sketch.quantile(1)).toBeGreaterThanOrEqual(sketch.mapping.binValue(sketch.mapping.indexOf(50)));
    expect(sketch.quantile(1)).toBeLessThan(100);
    const negative = new LogSketch(0.01);
    negative.add(-5);
    negative.count += 0.5;
    expect(negative.quantile(1)).toBe(0);
  });

  it('returns NaN when empty', () => {
    expect(new LogSketch(0.01).quantile(0.5)).toBeNaN();
  });

  it('forgets every observation on clear, so a window slot that rotates out no longer shapes the quantiles', () => {
    const sketch = new LogSketch(0.01);
    for (const v of [-3, 0, 1, 2, 3]) sketch.add(v);
    sketch.clear();
    expect(sketch.count).toBe(0);
    expect(sketch.quantile(0.5)).toBeNaN();
    // Only what comes after the clear counts: the old -3, 0 and 1 must not be the new minimum or median.
    sketch.add(100);
    sketch.add(200);
    expect(sketch.quantile(0)).toBeCloseTo(100, -1);
    expect(sketch.quantile(0.5)).toBeCloseTo(100, -1);
    expect(sketch.quantile(1)).toBeCloseTo(200, -1);
    expect([...sketch.positive.counts].reduce((a, b) => a + b, 0)).toBe(2);
    expect([...sketch.negative.counts].every((c) => c === 0)).toBe(true);
    expect(sketch.zeroCount).toBe(0);
  });

  it('reads the negative values closest to zero too, after a wide range collapsed them into the lowest bin', () => {
    const sketch = new LogSketch(0.01, 256);
    // 1e-300 and closer to zero count as zero: start just above.
    for (let e = -299; e <= 300; e++) sketch.add(-(10 ** e));
    expect(sketch.negative.counts.length).toBeLessThanOrEqual(256);
    // The most negative value keeps full accuracy...
    expect(Math.abs(sketch.quantile(0) + 1e300) / 1e300).toBeLessThanOrEqual(0.01);
    // ...and the values closest to zero, folded into the lowest negative bin, are read from that bin: not missed,
    // which would leave the maximum at 0, a value never observed.
    const lowestBin = -sketch.mapping.binValue(sketch.negative.offset);
    expect(sketch.negative.counts[0]).toBeGreaterThan(0);
    expect(sketch.quantile(1)).toBe(lowestBin);
    expect(sketch.quantile(0.5)).toBe(lowestBin);
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
