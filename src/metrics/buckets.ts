import { invalidOption } from '../errors.js';
import { isByteUnit, isTimeUnit } from './units.js';

/** Explicit bucket bounds, or a generator for them. Bounds are inclusive upper limits (`le`). */
export type BucketSpec =
  | readonly number[]
  | { readonly exponential: { readonly start: number; readonly factor: number; readonly count: number } }
  | { readonly linear: { readonly start: number; readonly width: number; readonly count: number } };

// OpenTelemetry's HTTP semantic-convention buckets, in seconds: they resolve both a 5 ms API and a 10 s upload.
const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
const MILLISECONDS = [5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000];
const MICROSECONDS = [5e3, 1e4, 2.5e4, 5e4, 7.5e4, 1e5, 2.5e5, 5e5, 7.5e5, 1e6, 2.5e6, 5e6, 7.5e6, 1e7];
const NANOSECONDS = [5e6, 1e7, 2.5e7, 5e7, 7.5e7, 1e8, 2.5e8, 5e8, 7.5e8, 1e9, 2.5e9, 5e9, 7.5e9, 1e10];
// Powers of four from 64 B to 64 MiB: payload sizes span six orders of magnitude.
const BYTES = [64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];
const KILOBYTES = [0.25, 1, 4, 16, 64, 256, 1024, 4096, 16384, 65536];
const MEGABYTES = [0.25, 1, 4, 16, 64, 256, 1024, 4096];
// 1-2-5 steps suit counts (rows returned, items in a cart) when no unit says otherwise.
const UNITLESS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];

/**
 * The most bounds a distribution may have. Each costs 4 bytes per series and a line per series in every scrape;
 * classic histograms rarely need more than a few dozen, and a count typed in error (1e9) must fail here rather than
 * abort the process on an allocation no try/catch can catch.
 */
export const MAX_BUCKETS = 1000;

/** Default bounds for a distribution whose (target) unit is `unit`. */
export function defaultBuckets(unit: string): readonly number[] {
  if (isTimeUnit(unit)) {
    switch (unit) {
      case 'second':
        return SECONDS;
      case 'millisecond':
        return MILLISECONDS;
      case 'microsecond':
        return MICROSECONDS;
      default:
        return NANOSECONDS;
    }
  }
  if (isByteUnit(unit)) {
    return unit === 'byte' ? BYTES : unit === 'kilobyte' ? KILOBYTES : MEGABYTES;
  }
  return UNITLESS;
}

/**
 * Turns a bucket spec into sorted, finite, strictly increasing bounds.
 *
 * @throws with the metric's name when the spec is invalid.
 */
export function resolveBuckets(spec: unknown, unit: string, metricName: string): number[] {
  const fail = (why: string): never => {
    invalidOption(`telemeter: metric "${metricName}": option reporterOptions.buckets ${why}`);
  };
  if (spec === undefined) return [...defaultBuckets(unit)];
  let bounds: number[];
  if (Array.isArray(spec)) {
    bounds = spec as number[];
  } else if (typeof spec === 'object' && spec !== null && 'exponential' in spec) {
    const { start, factor, count } = (spec as { exponential: Record<string, unknown> }).exponential ?? {};
    if (typeof start !== 'number' || !(start > 0)) fail('exponential.start must be a number > 0');
    if (typeof factor !== 'number' || !(factor > 1)) fail('exponential.factor must be a number > 1');
    checkCount(count, 'exponential.count', fail);
    bounds = Array.from({ length: count as number }, (_, i) => (start as number) * (factor as number) ** i);
  } else if (typeof spec === 'object' && spec !== null && 'linear' in spec) {
    const { start, width, count } = (spec as { linear: Record<string, unknown> }).linear ?? {};
    if (typeof start !== 'number' || !Number.isFinite(start)) fail('linear.start must be a finite number');
    if (typeof width !== 'number' || !(width > 0)) fail('linear.width must be a number > 0');
    checkCount(count, 'linear.count', fail);
    bounds = Array.from({ length: count as number }, (_, i) => (start as number) + (width as number) * i);
  } else {
    return fail(
      'must be an array of increasing numbers, { exponential: { start, factor, count } } or { linear: { start, width, count } }',
    );
  }
  if (bounds.length === 0) fail('must not be empty');
  if (bounds.length > MAX_BUCKETS) fail(`has ${bounds.length} bounds; at most ${MAX_BUCKETS} are allowed`);
  for (let i = 0; i < bounds.length; i++) {
    const b = bounds[i];
    if (typeof b !== 'number' || !Number.isFinite(b))
      fail(`has a non-finite bound at index ${i}: ${String(b)}`);
    if (i > 0 && !(b > bounds[i - 1]))
      fail(`must be strictly increasing, but ${bounds[i - 1]} is followed by ${b}`);
  }
  return [...bounds];
}

function checkCount(count: unknown, option: string, fail: (why: string) => never): void {
  if (!(Number.isInteger(count) && (count as number) >= 1 && (count as number) <= MAX_BUCKETS)) {
    fail(`${option} must be an integer from 1 to ${MAX_BUCKETS}, got ${String(count)}`);
  }
}
