import { describe, expect, it } from 'vitest';
import { distribution } from '../../src/index.js';
import { defaultBuckets, MAX_BUCKETS, resolveBuckets } from '../../src/metrics/buckets.js';
import { thrown } from '../support/thrown.js';

const OTEL_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

describe('default buckets', () => {
  it('spread a latency over the same 5 ms to 10 s range in every time unit', () => {
    expect(defaultBuckets('second')).toEqual(OTEL_SECONDS);
    expect(defaultBuckets('millisecond')).toEqual(OTEL_SECONDS.map((s) => s * 1e3));
    expect(defaultBuckets('microsecond').map((us) => us / 1e6)).toEqual(OTEL_SECONDS);
    for (const unit of ['nanosecond', 'native']) {
      expect(defaultBuckets(unit).map((ns) => ns / 1e9)).toEqual(OTEL_SECONDS);
    }
  });

  it('spread a size over powers of four from 64 B to 64 MiB, whichever byte unit it is in', () => {
    const bytes = Array.from({ length: 11 }, (_, i) => 64 * 4 ** i);
    expect(defaultBuckets('byte')).toEqual(bytes);
    expect(defaultBuckets('kilobyte')).toEqual([0.25, 1, 4, 16, 64, 256, 1024, 4096, 16384, 65536]);
    expect(defaultBuckets('megabyte')).toEqual([0.25, 1, 4, 16, 64, 256, 1024, 4096]);
  });

  it('count in 1-2-5 steps up to 10 000 for any other unit, not in time buckets', () => {
    const steps = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];
    for (const unit of ['unit', 'request', 'row', 'bytes', 'seconds', 'constructor']) {
      expect(defaultBuckets(unit)).toEqual(steps);
    }
  });

  it('are what a distribution without buckets exports, by its target unit', () => {
    const resolved = (unit: string) => resolveBuckets(undefined, unit, 'm');
    expect(resolved('byte')).toEqual(defaultBuckets('byte'));
    expect(resolved('unit')).toEqual(defaultBuckets('unit'));
    // A copy: changing it cannot change the defaults of the next distribution.
    const copy = resolved('second');
    copy[0] = 99;
    expect(defaultBuckets('second')[0]).toBe(0.005);
  });
});

describe('bucket specs', () => {
  it('generate exponential and linear bounds, starting at start', () => {
    expect(resolveBuckets({ exponential: { start: 0.5, factor: 2, count: 4 } }, 'unit', 'm')).toEqual([
      0.5, 1, 2, 4,
    ]);
    expect(resolveBuckets({ linear: { start: -10, width: 2.5, count: 5 } }, 'unit', 'm')).toEqual([
      -10, -7.5, -5, -2.5, 0,
    ]);
    expect(resolveBuckets({ exponential: { start: 1, factor: 10, count: 1 } }, 'unit', 'm')).toEqual([1]);
    expect(resolveBuckets({ linear: { start: 0, width: 1, count: MAX_BUCKETS } }, 'unit', 'm')).toHaveLength(
      MAX_BUCKETS,
    );
  });

  it('take explicit bounds as given, as a copy', () => {
    const given = [-1, 0, 0.5, 2];
    const bounds = resolveBuckets(given, 'second', 'm');
    expect(bounds).toEqual(given);
    bounds.push(3);
    expect(given).toHaveLength(4);
  });

  it.each([
    [{ exponential: { start: 0, factor: 2, count: 3 } }, 'exponential.start must be a number > 0'],
    [{ exponential: { start: -1, factor: 2, count: 3 } }, 'exponential.start must be a number > 0'],
    [{ exponential: { start: Number.NaN, factor: 2, count: 3 } }, 'exponential.start must be a number > 0'],
    [{ exponential: { start: '1', factor: 2, count: 3 } }, 'exponential.start must be a number > 0'],
    [{ exponential: { start: 1, factor: 1, count: 3 } }, 'exponential.factor must be a number > 1'],
    [{ exponential: { start: 1, factor: 0.5, count: 3 } }, 'exponential.factor must be a number > 1'],
    [{ exponential: { start: 1, factor: '2', count: 3 } }, 'exponential.factor must be a number > 1'],
    [
      { exponential: { start: 1, factor: 2, count: 0 } },
      'exponential.count must be an integer from 1 to 1000, got 0',
    ],
    [
      { exponential: { start: 1, factor: 2, count: 2.5 } },
      'exponential.count must be an integer from 1 to 1000, got 2.5',
    ],
    [
      { exponential: { start: 1, factor: 2, count: 1001 } },
      'exponential.count must be an integer from 1 to 1000, got 1001',
    ],
    [
      { exponential: { start: 1, factor: 2 } },
      'exponential.count must be an integer from 1 to 1000, got undefined',
    ],
    [
      { exponential: { start: 1, factor: 2, count: 1e9 } },
      'exponential.count must be an integer from 1 to 1000',
    ],
    [{ exponential: null }, 'exponential.start must be a number > 0'],
    [
      { exponential: { start: 1e300, factor: 1e10, count: 3 } },
      'has a non-finite bound at index 1: Infinity',
    ],
    [
      { linear: { start: Number.POSITIVE_INFINITY, width: 1, count: 3 } },
      'linear.start must be a finite number',
    ],
    [{ linear: { start: Number.NaN, width: 1, count: 3 } }, 'linear.start must be a finite number'],
    [{ linear: { start: '0', width: 1, count: 3 } }, 'linear.start must be a finite number'],
    [{ linear: { start: 0, width: 0, count: 3 } }, 'linear.width must be a number > 0'],
    [{ linear: { start: 0, width: -1, count: 3 } }, 'linear.width must be a number > 0'],
    [{ linear: { start: 0, width: '1', count: 3 } }, 'linear.width must be a number > 0'],
    [{ linear: { start: 0, width: 1, count: 0 } }, 'linear.count must be an integer from 1 to 1000, got 0'],
    [
      { linear: { start: 0, width: 1, count: 1001 } },
      'linear.count must be an integer from 1 to 1000, got 1001',
    ],
    [{ linear: { start: 0, width: 1, count: '3' } }, 'linear.count must be an integer from 1 to 1000, got 3'],
    [{ linear: undefined }, 'linear.start must be a finite number'],
  ])('reject %j: %s', (spec, why) => {
    const error = thrown(() => distribution('bk.size', { reporterOptions: { buckets: spec as never } }));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.code).toBe('ERR_TELEMETER_INVALID_OPTION');
    expect(error.message).toContain(`telemeter: metric "bk.size": option reporterOptions.buckets ${why}`);
  });

  it.each([
    [[1, 1, 2], 'must be strictly increasing, but 1 is followed by 1'],
    [[0, -0], 'must be strictly increasing, but 0 is followed by 0'],
    [[1, 2, 2], 'must be strictly increasing, but 2 is followed by 2'],
    [[3, 2], 'must be strictly increasing, but 3 is followed by 2'],
    [[1, Number.POSITIVE_INFINITY], 'has a non-finite bound at index 1: Infinity'],
    [[Number.NEGATIVE_INFINITY, 1], 'has a non-finite bound at index 0: -Infinity'],
    [[1, Number.NaN], 'has a non-finite bound at index 1: NaN'],
    [[1, '2'], 'has a non-finite bound at index 1: 2'],
    [[], 'must not be empty'],
    [Array.from({ length: 1001 }, (_, i) => i), 'has 1001 bounds; at most 1000 are allowed'],
    ['1,2', 'must be an array of increasing numbers, { exponential: { start, factor, count } } or { linear'],
    [null, 'must be an array of increasing numbers'],
    [{ exponentials: {} }, 'must be an array of increasing numbers'],
  ])('reject the bounds %j: %s', (spec, why) => {
    const error = thrown(() => resolveBuckets(spec, 'unit', 'bk.size'));
    expect(error.code).toBe('ERR_TELEMETER_INVALID_OPTION');
    expect(error.message).toContain(`telemeter: metric "bk.size": option reporterOptions.buckets ${why}`);
  });

  it('accept exactly 1000 explicit bounds', () => {
    const bounds = Array.from({ length: MAX_BUCKETS }, (_, i) => i);
    expect(resolveBuckets(bounds, 'unit', 'm')).toEqual(bounds);
  });
});
