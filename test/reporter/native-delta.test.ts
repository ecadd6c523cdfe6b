/**
 * nativeDifference against a plain model: what a series gained between two reads, added to the first read, is the
 * second read, also when the resolution went down or the zero bucket widened in between (the bucket limit).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nativeDifference } from '../../src/reporter/native-delta.js';
import { type NativeHistogramData, NativeHistogramStore } from '../../src/reporter/native-histogram.js';

/** Values spread over many orders of magnitude and both signs, zeros included. */
const value = fc.oneof(
  fc.double({ min: 1e-6, max: 1e6, noNaN: true }),
  fc.double({ min: -1e6, max: -1e-6, noNaN: true }),
  fc.constantFrom(0, 1, 2, 0.5, -1),
);

function recorded(values: readonly number[], maxBucketCount: number, schema = 3): NativeHistogramStore {
  const store = new NativeHistogramStore({ schema, maxBucketCount }, 'test');
  store.grow(1);
  for (const v of values) store.observe(0, v);
  return store;
}

/** `first` then `second` merged into a fresh store at `first`'s options: what a primary holds after two deltas. */
function sumOf(first: NativeHistogramData, second: NativeHistogramData, maxBucketCount: number) {
  const store = new NativeHistogramStore({ schema: 8, maxBucketCount }, 'test');
  store.grow(1);
  store.merge(0, first);
  store.merge(0, second);
  return store.read(0);
}

describe('nativeDifference', () => {
  it('adds back up to the later read, across resolution reductions', () => {
    fc.assert(
      fc.property(
        fc.array(value, { maxLength: 60 }),
        fc.array(value, { maxLength: 60 }),
        fc.integer({ min: 2, max: 40 }),
        (before, after, maxBucketCount) => {
          const store = recorded(before, maxBucketCount);
          const first = store.read(0);
          for (const v of after) store.observe(0, v);
          const second = store.read(0);
          const gained = nativeDifference(second, first);
          expect(gained).toBeDefined();
          expect(gained!.schema).toBe(second.schema);
          expect(gained!.count).toBe(after.length);
          for (const n of [...gained!.positive.counts, ...gained!.negative.counts])
            expect(n).toBeGreaterThan(0);
          const total = sumOf(first, gained!, maxBucketCount);
          expect(total.count).toBe(second.count);
          expect(total.zeroCount).toBe(second.zeroCount);
          expect(total.positive).toEqual(second.positive);
          expect(total.negative).toEqual(second.negative);
          expect(total.schema).toBe(second.schema);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('is empty when nothing was recorded in between', () => {
    const store = recorded([0.1, 0.2, -3, 0], 160);
    const gained = nativeDifference(store.read(0), store.read(0))!;
    expect(gained.count).toBe(0);
    expect(gained.zeroCount).toBe(0);
    expect(gained.positive.indices).toEqual([]);
    expect(gained.negative.indices).toEqual([]);
  });

  it('reports a reset (undefined) when the later read cannot have grown from the earlier one', () => {
    const earlier = recorded([0.1, 0.2, 5], 160).read(0);
    // Fewer observations.
    expect(nativeDifference(recorded([0.1], 160).read(0), earlier)).toBeUndefined();
    // As many, in other buckets: a bucket went down.
    expect(nativeDifference(recorded([7, 8, 9], 160).read(0), earlier)).toBeUndefined();
    // A finer schema than before only comes from a reset.
    expect(nativeDifference(recorded([0.1, 0.2, 5, 6], 160, 4).read(0), earlier)).toBeUndefined();
  });
});
