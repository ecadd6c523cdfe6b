import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  accuracyOfSchema,
  DEFAULT_SKETCH_SCHEMA,
  LogSketch,
  MIN_INDEXABLE,
  SketchMapping,
  schemaForAccuracy,
} from '../../src/reporter/log-sketch.js';
import { bucketIndex, NativeHistogramStore, upperBound } from '../../src/reporter/native-histogram.js';
import { codeGenerationAllowed } from '../support/code-generation.js';

/** The schema a relativeAccuracy of 0.01 gives: 6 (0.54%). */
const ONE_PERCENT = 6;

function nearestRank(sorted: number[], q: number): number {
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)];
}

describe('LogSketch', () => {
  it("keeps every quantile within its schema's relative error bound, for any positive or negative data", () => {
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
        fc.integer({ min: -4, max: 8 }),
        (values, q, schema) => {
          // Bins enough for the whole range at every schema: the bin budget is tested on its own below.
          const sketch = new LogSketch(schema, 1 << 16);
          for (const v of values) sketch.add(v);
          const exact = nearestRank(
            [...values].sort((a, b) => a - b),
            q,
          );
          const estimate = sketch.quantile(q);
          // The bound in exact arithmetic; the estimate's two roundings add a few units in the last place.
          const bound = accuracyOfSchema(schema) * (1 + 1e-12) + 1e-15;
          if (exact === 0) expect(estimate).toBe(0);
          else expect(Math.abs(estimate - exact) / Math.abs(exact)).toBeLessThanOrEqual(bound);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('merges exactly: two halves merged answer like one sketch of everything', () => {
    const whole = new LogSketch(5);
    const left = new LogSketch(5);
    const right = new LogSketch(5);
    for (let i = 1; i <= 5000; i++) {
      const v = (i * 7919) % 10007;
      whole.add(v);
      (i % 2 === 0 ? left : right).add(v);
    }
    left.merge(right);
    expect(left.count).toBe(whole.count);
    for (const q of [0.1, 0.5, 0.9, 0.999]) expect(left.quantile(q)).toBe(whole.quantile(q));
  });

  // Within 2^80 of each other, so that no bins collapse at schema 8 (see the bin budget tests).
  const finiteValue = fc
    .double({ min: -1e12, max: 1e12, noNaN: true })
    .filter((x) => Math.abs(x) > 1e-12 || x === 0);

  it('merges sketches of different schemas at the lower one, exactly as if every value had been added there', () => {
    fc.assert(
      fc.property(
        fc.array(finiteValue, { maxLength: 200 }),
        fc.array(finiteValue, { maxLength: 200 }),
        fc.integer({ min: -4, max: 8 }),
        fc.integer({ min: -4, max: 8 }),
        (a, b, schemaA, schemaB) => {
          const left = new LogSketch(schemaA, 1 << 16);
          const right = new LogSketch(schemaB, 1 << 16);
          const whole = new LogSketch(Math.min(schemaA, schemaB), 1 << 16);
          for (const v of a) left.add(v);
          for (const v of b) right.add(v);
          for (const v of [...a, ...b]) whole.add(v);
          left.merge(right);
          expect(left.mapping.schema).toBe(whole.mapping.schema);
          expect([left.count, left.zeroCount]).toEqual([whole.count, whole.zeroCount]);
          expect(binsOf(left)).toEqual(binsOf(whole));
          expect(binsOf(left, 'negative')).toEqual(binsOf(whole, 'negative'));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('puts each value in the native histogram bucket of its schema, upper bound inclusive', () => {
    for (let schema = -4; schema <= 8; schema++) {
      const sketch = new LogSketch(schema);
      for (const index of [-40, -1, 0, 1, 2, 37]) {
        const bound = upperBound(index, schema);
        expect(sketch.mapping.indexOf(bound)).toBe(index);
        expect(sketch.mapping.indexOf(bound * (1 + 2 ** -52))).toBe(index + 1);
        expect(sketch.mapping.indexOf(bound)).toBe(bucketIndex(bound, schema));
      }
    }
  });

  it('holds the same buckets as a native histogram of its schema given the same values', () => {
    fc.assert(
      fc.property(
        fc.array(finiteValue, { maxLength: 300 }),
        fc.integer({ min: -4, max: 8 }),
        (values, schema) => {
          const sketch = new LogSketch(schema, 1 << 16);
          const native = new NativeHistogramStore({ schema, maxBucketCount: 100_000 });
          native.grow(1);
          for (const v of values) {
            sketch.add(v);
            native.observe(0, v);
          }
          const data = native.read(0);
          expect(data.schema).toBe(schema);
          const pairs = (side: 'positive' | 'negative') =>
            data[side].indices.flatMap((index, k) => [index, data[side].counts[k]]);
          expect(binsOf(sketch)).toEqual(pairs('positive'));
          expect(binsOf(sketch, 'negative')).toEqual(pairs('negative'));
          expect(sketch.zeroCount).toBe(data.zeroCount);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('maps a relative accuracy to the coarsest schema within it', () => {
    expect(accuracyOfSchema(5)).toBeCloseTo(0.01083, 5);
    expect(accuracyOfSchema(6)).toBeCloseTo(0.005415, 6);
    expect(DEFAULT_SKETCH_SCHEMA).toBe(5);
    expect(schemaForAccuracy(0.011)).toBe(5);
    expect(schemaForAccuracy(0.01)).toBe(6);
    expect(schemaForAccuracy(0.02)).toBe(5);
    expect(schemaForAccuracy(0.05)).toBe(3);
    expect(schemaForAccuracy(0.999)).toBe(-3);
    expect(schemaForAccuracy(0.99999)).toBe(-4);
    expect(schemaForAccuracy(accuracyOfSchema(8))).toBe(8);
    expect(schemaForAccuracy(0.001)).toBeUndefined();
    for (let schema = -4; schema <= 8; schema++) {
      expect(schemaForAccuracy(accuracyOfSchema(schema))).toBe(schema);
      // Strictly coarser schemas are outside the bound.
      if (schema > -4) expect(accuracyOfSchema(schema - 1)).toBeGreaterThan(accuracyOfSchema(schema));
    }
  });

  it('stays within its bin budget over a huge dynamic range', () => {
    const sketch = new LogSketch(ONE_PERCENT, 256);
    for (let e = -300; e <= 300; e++) sketch.add(10 ** e);
    expect(sketch.positive.counts.length).toBeLessThanOrEqual(256);
    expect(sketch.count).toBe(601);
    // The top of the range keeps full accuracy; only the smallest magnitudes collapsed.
    expect(Math.abs(sketch.quantile(1) - 1e300) / 1e300).toBeLessThanOrEqual(0.01);
  });

  it('counts in 32-bit bins and moves a store to float64 before a count would wrap or lose a fraction', () => {
    const sketch = new LogSketch(ONE_PERCENT);
    sketch.add(5);
    expect(sketch.positive.counts).toBeInstanceOf(Uint32Array);
    const [bin] = binsOf(sketch);
    sketch.positive.add(bin, 2 ** 32 - 2);
    expect(sketch.positive.counts).toBeInstanceOf(Uint32Array);
    sketch.positive.add(bin, 1);
    expect(sketch.positive.counts).toBeInstanceOf(Float64Array);
    expect(binsOf(sketch)).toEqual([bin, 2 ** 32]);

    const merged = new LogSketch(ONE_PERCENT);
    merged.positive.add(bin, 1.5);
    expect(binsOf(merged)).toEqual([bin, 1.5]);
  });

  it('keeps every count when a full range collapses bins whose sum passes 2^32', () => {
    const sketch = new LogSketch(ONE_PERCENT, 4);
    sketch.positive.add(10, 2 ** 32 - 1);
    sketch.positive.add(11, 2 ** 32 - 1);
    // A new top bin pushes 10 and 11 below the 4-bin range: both fold into its lowest bin.
    sketch.positive.add(15, 1);
    const bins = binsOf(sketch);
    expect(bins).toEqual([12, 2 ** 33 - 2, 15, 1]);
  });

  it('shares the constants of a schema and holds no bins before the first value', () => {
    const a = new LogSketch(ONE_PERCENT);
    const b = new LogSketch(ONE_PERCENT);
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
    for (let schema = -4; schema <= 8; schema++) {
      const mapping = SketchMapping.of(schema);
      const generated = new Function(
        'tables',
        'magnitude',
        `let bin; ${mapping.indexSource('magnitude', 'tables', 'bin')} return bin;`,
      ) as (tables: unknown, magnitude: number) => number;
      const powers = Array.from({ length: 41 }, (_, i) => upperBound(i - 20, schema));
      fc.assert(
        fc.property(
          fc.oneof(
            fc.double({ min: 1e-300, max: 1e300, noNaN: true }),
            fc.double({ min: 0.9, max: 1.1, noNaN: true }),
            fc.constantFrom(...powers),
            fc.constantFrom(
              1,
              1 - 1e-12,
              1 + 1e-12,
              0.5,
              2,
              Number.MAX_VALUE,
              1e-300 * 1.0000001,
              2 ** -1022,
            ),
            fc.constantFrom(2 ** -1030, 5e-324, 3e-310),
          ),
          (magnitude) => {
            expect(Object.is(generated(mapping.tables, magnitude), mapping.indexOf(magnitude))).toBe(true);
          },
        ),
        { numRuns: 2000 },
      );
    }
  });

  it('counts values within 1e-300 of zero as zero, on both sides, and every other value by its sign', () => {
    const sketch = new LogSketch(ONE_PERCENT);
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
      const sketch = new LogSketch(ONE_PERCENT);
      sketch.add(value);
      expect(sketch.positive.counts.length).toBe(16);
      expect(binsOf(sketch)).toEqual([sketch.mapping.indexOf(value), 1]);
    }
    const small = new LogSketch(ONE_PERCENT, 4);
    small.add(3);
    expect(small.positive.counts.length).toBe(4);
  });

  it('grows a drifting range with head room, instead of reallocating its bins for each new extreme', () => {
    for (const step of [1, -1]) {
      const sketch = new LogSketch(ONE_PERCENT);
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
    const sketch = new LogSketch(ONE_PERCENT, 4);
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
    const target = new LogSketch(ONE_PERCENT, 16);
    const source = new LogSketch(ONE_PERCENT, 16);
    target.add(target.mapping.binValue(85));
    target.add(target.mapping.binValue(90));
    source.add(source.mapping.binValue(100));
    expect(source.positive.counts.length).toBe(16); // bins 93 to 108, one of them used
    target.merge(source);
    expect(binsOf(target)).toEqual([85, 1, 90, 1, 100, 1]);
    expect(target.quantile(0)).toBe(target.mapping.binValue(85));
  });

  it('keeps a store that moved to float64 in float64, with every count, when its range grows', () => {
    const sketch = new LogSketch(ONE_PERCENT);
    sketch.positive.add(100, 2 ** 32);
    expect(sketch.positive.counts).toBeInstanceOf(Float64Array);
    sketch.positive.add(1000, 3);
    sketch.positive.add(-1000, 5);
    expect(sketch.positive.counts).toBeInstanceOf(Float64Array);
    expect(binsOf(sketch)).toEqual([-1000, 5, 100, 2 ** 32, 1000, 3]);
  });

  it('answers a rank past its bins (counts merged out of step) with a positive value at least its largest, never NaN', () => {
    const sketch = new LogSketch(ONE_PERCENT);
    for (const v of [5, 50]) sketch.add(v);
    sketch.count += 0.5;
    expect(sketch.quantile(1)).toBeGreaterThanOrEqual(sketch.mapping.binValue(sketch.mapping.indexOf(50)));
    expect(sketch.quantile(1)).toBeLessThan(100);
    const negative = new LogSketch(ONE_PERCENT);
    negative.add(-5);
    negative.count += 0.5;
    expect(negative.quantile(1)).toBe(0);
  });

  it('returns NaN when empty', () => {
    expect(new LogSketch(ONE_PERCENT).quantile(0.5)).toBeNaN();
  });

  it('forgets every observation on clear, so a window slot that rotates out no longer shapes the quantiles', () => {
    const sketch = new LogSketch(ONE_PERCENT);
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
    const sketch = new LogSketch(ONE_PERCENT, 256);
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

/** [index, count, ...] of a sketch's positive (or negative) bins that hold something. */
function binsOf(sketch: LogSketch, side: 'positive' | 'negative' = 'positive'): number[] {
  const { counts, offset } = sketch[side];
  const pairs: number[] = [];
  counts.forEach((count, i) => {
    if (count !== 0) pairs.push(i + offset, count);
  });
  return pairs;
}
