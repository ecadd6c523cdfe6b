import { invalidOption } from '../errors.js';
import { stagedValue } from './staged-value.js';

/**
 * Native histograms (Prometheus' sparse exponential histograms) for many series of one distribution.
 *
 * A series at schema `n` counts each value `v > 0` in bucket `i` with `base^(i-1) < v <= base^i`,
 * `base = 2^(2^-n)`; negative values in the mirrored bucket of `|v|`; values in `[-zeroThreshold, zeroThreshold]`
 * in the zero bucket. The index is computed exactly as the spec defines it (see {@link bucketIndex}), so a value
 * equal to a power of the base lands in the bucket it closes, at every schema from -4 to 8.
 *
 * Layout: the per-series scalars (schema, zero threshold, zero count, NaN count, sum, populated buckets, the two
 * ±Infinity buckets) are flat typed arrays indexed by series; the other buckets of each sign are a dense window (a
 * typed array and the index of its first element), so recording a value into a populated range is one index
 * computation and one array store. The count is computed when read, not written per observation. Counts are
 * 32-bit until one would pass 2^32 - 1; then every window of the store moves to float64, once (as
 * `HistogramStore` does), so no count wraps.
 *
 * Limits (the spec's "Limiting the bucket count"): when a series holds more than `maxBucketCount` populated
 * buckets (both sides together, as client_golang counts them), its resolution is halved (schema - 1, neighbour
 * buckets merged), repeatedly, down to schema -4. Only if schema -4 still holds too many buckets (which takes values
 * spread over hundreds of powers of two) is the spec's other strategy used: the zero bucket is widened to swallow
 * the populated buckets nearest zero, one at a time. Resolution goes first because it keeps every observation's sign
 * and order of magnitude; widening the zero bucket throws away the small values, which for latencies are the
 * interesting ones. client_golang's third option, resetting the histogram after a minimum duration, is not taken:
 * a reset loses up to a scrape interval of data for Prometheus, and this store has no clock. A series keeps its
 * reduced schema until {@link NativeHistogramStore.reset}.
 *
 * A dense window also reduces the resolution when it would span more than `max(4 × maxBucketCount, 256)` indices on
 * one side, however few of them are populated, so a series never holds more than a few KiB (values far apart, at
 * a fine schema, would otherwise make a window of hundreds of thousands of mostly empty cells). Schema -4 spans at
 * most 132 indices per side (from the smallest subnormal to MaxFloat64), so this bound never needs the zero bucket.
 */

/** The coarsest and the finest standard exponential schema. */
export const MIN_SCHEMA = -4;
export const MAX_SCHEMA = 8;
/** The default zero threshold, 2^-128: a bucket boundary at every schema (client_golang, client_java). */
export const DEFAULT_ZERO_THRESHOLD = 2 ** -128;
export const DEFAULT_BUCKET_FACTOR = 1.1;
export const DEFAULT_MAX_BUCKET_COUNT = 160;
/** The largest count a 32-bit window holds. */
const MAX_UINT32 = 0xffffffff;

/** The options of a native histogram; every one is optional. */
export interface NativeHistogramOptions {
  /**
   * The largest ratio wanted between a bucket's upper and lower bound; the schema is the coarsest one whose factor
   * `2^(2^-schema)` is at most this (1.1 → schema 3, the default). Must be > 1. Ignored when `schema` is given.
   */
  readonly bucketFactor?: number;
  /** The initial schema, an integer from -4 to 8; overrides `bucketFactor`. */
  readonly schema?: number;
  /** Values with `|v| <= zeroThreshold` count in the zero bucket. Default 2^-128; 0 counts only exact zeros. */
  readonly zeroThreshold?: number;
  /** Populated buckets per series (both signs) above which the resolution is reduced. Default 160, at least 2. */
  readonly maxBucketCount?: number;
}

/** Populated buckets of one sign, by ascending index, with their counts (each > 0). */
export interface NativeBuckets {
  readonly indices: readonly number[];
  readonly counts: readonly number[];
}

/** One series' native histogram as plain data: what encoders read and what {@link NativeHistogramStore.merge} adds. */
export interface NativeHistogramData {
  readonly schema: number;
  readonly zeroThreshold: number;
  readonly zeroCount: number;
  /** Observations, NaN included (a NaN is in `count` and `sum` but in no bucket, as the spec says). */
  readonly count: number;
  readonly sum: number;
  readonly positive: NativeBuckets;
  readonly negative: NativeBuckets;
}

/** A bucket span of the protobuf form: `offset` is absolute for the first span, the gap after the previous otherwise. */
export interface BucketSpan {
  readonly offset: number;
  readonly length: number;
}

/** One sign's buckets in the protobuf's sparse form (REFERENCE §11.3): spans and count deltas. */
export interface SpansAndDeltas {
  readonly spans: readonly BucketSpan[];
  /** Each bucket's count minus the previous bucket's (the first is absolute), bucket by bucket through the spans. */
  readonly deltas: readonly number[];
}

/**
 * One sign's buckets in OTLP's `ExponentialHistogramDataPoint.Buckets` form: `bucketCounts[k]` counts
 * `(base^(offset + k), base^(offset + k + 1)]`, so OTLP's index is the Prometheus index minus 1 (OTLP's `scale` is
 * the schema). OTLP has no overflow bucket: observations of ±Infinity are left out and returned in `overflowCount`,
 * for the exporter to leave out of the data point's `count` too (the Prometheus-to-OTLP mapping drops them).
 */
export interface OtlpBuckets {
  readonly offset: number;
  readonly bucketCounts: readonly number[];
  readonly overflowCount: number;
}

/**
 * The schema a bucket factor asks for: the coarsest schema in [-4, 8] whose factor `2^(2^-schema)` is <= `factor`
 * (the largest factor not above the one asked for; client_golang `pickSchema`); 8 for any factor below 1.0027.
 */
export function schemaForFactor(factor: number): number {
  let schema = Math.min(MAX_SCHEMA, Math.max(MIN_SCHEMA, -Math.floor(Math.log2(Math.log2(factor))))) || 0;
  // The closed form can be off by one where `factor` is a power of the base; the comparison is the definition.
  while (schema > MIN_SCHEMA && 2 ** (2 ** -(schema - 1)) <= factor) schema--;
  while (schema < MAX_SCHEMA && 2 ** (2 ** -schema) > factor) schema++;
  return schema;
}

// Exponent and mantissa bits of a double, read through one shared buffer (JavaScript has no frexp).
const scratch = new Float64Array(1);
const scratchWords = new Uint32Array(scratch.buffer);
const HI = new Uint8Array(new Float64Array([1]).buffer)[7] === 0x3f ? 1 : 0;
const TWO_TO_64 = 2 ** 64;

/**
 * Per schema 1…8: `bounds[j]` (j = 0 … 2^n - 1) is the largest double <= 2^(j/2^n - 1), then a 1 that no fraction
 * reaches. Rounding down makes `frac <= bounds[j]` exactly `frac <= 2^(j/2^n - 1)` for any double `frac`, so the
 * index is the one the spec's real-number definition gives (client_golang's table is rounded to nearest, which can
 * differ for the one double between the true bound and a bound rounded up).
 * `segments[s]` is twice the bucket of the fraction 0.5 + s/2048, plus 1 when a bound falls inside the segment:
 * buckets are wider than a segment up to schema 8, so a fraction's bucket is its segment's, or the next one when
 * the segment holds a bound and the fraction is above it. At schema 3, 8 segments of 1024 need that comparison.
 */
const SEGMENT_BITS = 10;
// By schema, built on first use (the exact bounds take BigInt powers: about 14 ms for all eight schemas, most of it
// schema 8), empty until then. A store builds the tables of its initial schema and every coarser one when it is
// made, so recording reads them without a check: a series' schema only ever goes down from there.
const BOUNDS: Float64Array[] = Array.from({ length: MAX_SCHEMA + 1 }, () => new Float64Array(0));
const SEGMENTS: Uint16Array[] = Array.from({ length: MAX_SCHEMA + 1 }, () => new Uint16Array(0));

/** Builds the tables of schemas 1 … `schema`. */
function ensureTables(schema: number): void {
  for (let n = 1; n <= schema; n++) if (BOUNDS[n].length === 0) buildSchemaTable(n);
}

/** Whether `fraction` (in [0.5, 1)) is <= 2^(j/2^n - 1), in exact integer arithmetic: both sides to the 2^n. */
function atMostBound(fraction: number, j: number, schema: number): boolean {
  const buckets = 2 ** schema;
  const mantissa = BigInt(fraction * 2 ** 53);
  return mantissa ** BigInt(buckets) <= 1n << BigInt(j - buckets + 53 * buckets);
}

function buildSchemaTable(schema: number): void {
  const buckets = 2 ** schema;
  const bounds = new Float64Array(buckets + 1);
  const ulp = 2 ** -53;
  for (let j = 0; j < buckets; j++) {
    let bound = 2 ** (j / buckets - 1);
    while (!atMostBound(bound, j, schema)) bound -= ulp;
    while (bound + ulp < 1 && atMostBound(bound + ulp, j, schema)) bound += ulp;
    bounds[j] = bound;
  }
  bounds[buckets] = 1;
  const segments = new Uint16Array(1 << SEGMENT_BITS);
  let k = 0;
  for (let s = 0; s < segments.length; s++) {
    const fraction = 0.5 + s / (2 << SEGMENT_BITS);
    while (bounds[k] < fraction) k++;
    const boundInside = bounds[k] < fraction + 1 / (2 << SEGMENT_BITS);
    segments[s] = (k << 1) | (boundInside ? 1 : 0);
  }
  BOUNDS[schema] = bounds;
  SEGMENTS[schema] = segments;
}

/** The index of the overflow bucket `(MaxFloat64, +Inf]` at `schema`; MaxFloat64 is in the one before. */
export function overflowIndex(schema: number): number {
  return (schema >= 0 ? 1024 << schema : 1024 >> -schema) + 1;
}

/**
 * The bucket index of a magnitude `m > 0` (not NaN) at `schema` (-4…8), exactly as the spec's exact method
 * (client_golang `observe`): `m = frac·2^exp` with `frac` in [0.5, 1); schema > 0: `(exp - 1)·2^n + k` with `k`
 * the first `j` whose bound `2^(j/2^n - 1)` is >= frac; schema <= 0: `exp` (minus 1 when frac is exactly 0.5),
 * rounded up to a multiple of `2^-n` and divided by it. +Infinity is the overflow bucket.
 */
export function bucketIndex(magnitude: number, schema: number): number {
  ensureTables(schema);
  return indexOf(magnitude, schema);
}

/** {@link bucketIndex} once the tables of `schema` are built. */
function indexOf(magnitude: number, schema: number): number {
  scratch[0] = magnitude;
  return indexOfScratch(schema);
}

/**
 * {@link indexOf} of the magnitude already in `scratch[0]`: the recording path writes it there rather than pass a
 * double to a call V8 may not inline (which boxes it).
 */
function indexOfScratch(schema: number): number {
  const magnitude = scratch[0];
  let high = scratchWords[HI];
  let exponent = (high >>> 20) - 1022;
  if (exponent === -1022) {
    // Subnormal: scale into the normal range, where the exponent field is exact.
    scratch[0] = magnitude * TWO_TO_64;
    high = scratchWords[HI];
    exponent = (high >>> 20) - 1022 - 64;
  } else if (exponent === 1025) {
    return overflowIndex(schema);
  }
  if (schema > 0) {
    const segment = SEGMENTS[schema][(high >>> (20 - SEGMENT_BITS)) & ((1 << SEGMENT_BITS) - 1)];
    let k = segment >> 1;
    if ((segment & 1) !== 0) {
      scratchWords[HI] = (high & 0x800fffff) | 0x3fe00000;
      if (scratch[0] > BOUNDS[schema][k]) k++;
    }
    return ((exponent - 1) << schema) + k;
  }
  if ((high & 0xfffff) === 0 && scratchWords[1 - HI] === 0) exponent--;
  const shift = -schema;
  return (exponent + (1 << shift) - 1) >> shift;
}

/**
 * What generated code reads to compute {@link bucketIndex} inline at one schema (see {@link bucketIndexSource}):
 * the shared scratch double and its words, the schema's tables, and `scratchIndex` for the rare values the inline
 * code leaves to it (subnormals and the overflow bucket).
 */
export interface IndexTables {
  /** Where `scratchIndex` reads its magnitude. */
  readonly scratch: Float64Array;
  readonly words: Uint32Array;
  readonly bounds: Float64Array;
  readonly segments: Uint16Array;
  /** The index of the magnitude written to `scratch[0]`: no double crosses the call. */
  readonly scratchIndex: () => number;
}

/** The {@link IndexTables} of `schema` (-4…8), its tables built. */
export function indexTables(schema: number): IndexTables {
  ensureTables(schema);
  return {
    scratch,
    words: scratchWords,
    bounds: BOUNDS[Math.max(0, schema)],
    segments: SEGMENTS[Math.max(0, schema)],
    scratchIndex: () => indexOfScratch(schema),
  };
}

/**
 * JavaScript statements that set `result` (a declared variable) to {@link bucketIndex} of the expression
 * `magnitude` (> 0, evaluated once) at `schema`, reading the {@link IndexTables} named `tables`: the same steps
 * as `indexOf`, with the schema's constants as literals, for generated recorders (a call that V8 does not inline
 * boxes the double it passes). A test holds the two to the same index.
 */
export function bucketIndexSource(magnitude: string, schema: number, tables: string, result: string): string {
  const normal =
    schema > 0
      ? `const segment = ${tables}.segments[(bitsHigh >>> ${20 - SEGMENT_BITS}) & ${(1 << SEGMENT_BITS) - 1}];
         ${result} = segment >> 1;
         if ((segment & 1) !== 0) {
           ${tables}.words[${HI}] = (bitsHigh & 0x800fffff) | 0x3fe00000;
           if (${tables}.scratch[0] > ${tables}.bounds[${result}]) ${result}++;
         }
         ${result} += (bitsExponent - 1) << ${schema};`
      : `if ((bitsHigh & 0xfffff) === 0 && ${tables}.words[${1 - HI}] === 0) bitsExponent--;
         ${result} = (bitsExponent + ${(1 << -schema) - 1}) >> ${-schema};`;
  return `{
    const bitsOf = ${magnitude};
    ${tables}.scratch[0] = bitsOf;
    const bitsHigh = ${tables}.words[${HI}];
    let bitsExponent = (bitsHigh >>> 20) - 1022;
    if (bitsExponent === -1022 || bitsExponent === 1025) ${result} = ${tables}.scratchIndex();
    else {
      ${normal}
    }
  }`;
}

/**
 * The upper bound of bucket `index` at `schema`, rounded down to a double (so `v <= upperBound` is exactly
 * `v <= base^index`); MaxFloat64 for the bucket that holds it and +Infinity for the overflow bucket. The lower bound
 * of bucket `i` is `upperBound(i - 1)`.
 */
export function upperBound(index: number, schema: number): number {
  const overflow = overflowIndex(schema);
  if (index >= overflow) return Number.POSITIVE_INFINITY;
  if (index === overflow - 1) return Number.MAX_VALUE;
  if (schema <= 0) return 2 ** (index * 2 ** -schema);
  const octave = Math.floor(index / 2 ** schema);
  const step = index - octave * 2 ** schema;
  // 2^(octave + step/2^n) = 2^(octave + 1) · bounds[step], the second factor taken as 2·bounds[step] so that
  // 2^(octave + 1) cannot overflow where the product does not.
  ensureTables(schema);
  return 2 * BOUNDS[schema][step] * 2 ** octave;
}

/** The index at `schema - delta` of the bucket `index` at `schema`: `ceil(index / 2^delta)`. */
export function downscaleIndex(index: number, delta: number): number {
  return ((index - 1) >> delta) + 1;
}

/** Spans and deltas of one sign's buckets (REFERENCE §11.3). Gaps of 1 or 2 empty buckets are written as zero deltas (as client_golang does): two one-byte zeros cost less than a new span. */
export function toSpansAndDeltas(buckets: NativeBuckets): SpansAndDeltas {
  const spans: BucketSpan[] = [];
  const deltas: number[] = [];
  const { indices, counts } = buckets;
  let previousCount = 0;
  let spanOffset = 0;
  let spanLength = 0;
  let nextIndex = 0;
  for (let b = 0; b < indices.length; b++) {
    const index = indices[b];
    const gap = index - nextIndex;
    if (spanLength === 0) {
      spanOffset = index;
    } else if (gap > 2) {
      spans.push({ offset: spanOffset, length: spanLength });
      spanOffset = gap;
      spanLength = 0;
    } else {
      for (let z = 0; z < gap; z++) {
        deltas.push(0 - previousCount);
        previousCount = 0;
        spanLength++;
      }
    }
    deltas.push(counts[b] - previousCount);
    previousCount = counts[b];
    spanLength++;
    nextIndex = index + 1;
  }
  if (spanLength > 0) spans.push({ offset: spanOffset, length: spanLength });
  return { spans, deltas };
}

/** The populated buckets that spans and deltas describe (zeros, written or implied, left out). */
export function fromSpansAndDeltas(sparse: SpansAndDeltas): NativeBuckets {
  const indices: number[] = [];
  const counts: number[] = [];
  let index = 0;
  let count = 0;
  let d = 0;
  sparse.spans.forEach((span, s) => {
    index = s === 0 ? span.offset : index + span.offset;
    for (let k = 0; k < span.length; k++) {
      count += sparse.deltas[d++];
      if (count !== 0) {
        indices.push(index);
        counts.push(count);
      }
      index++;
    }
  });
  return { indices, counts };
}

/** One sign's buckets in OTLP's form at `schema` (see {@link OtlpBuckets}). */
export function toOtlpBuckets(buckets: NativeBuckets, schema: number): OtlpBuckets {
  const overflow = overflowIndex(schema);
  const { indices, counts } = buckets;
  let end = indices.length;
  let overflowCount = 0;
  if (end > 0 && indices[end - 1] === overflow) overflowCount = counts[--end];
  if (end === 0) return { offset: 0, bucketCounts: [], overflowCount };
  const first = indices[0];
  const bucketCounts = new Array<number>(indices[end - 1] - first + 1).fill(0);
  for (let b = 0; b < end; b++) bucketCounts[indices[b] - first] = counts[b];
  return { offset: first - 1, bucketCounts, overflowCount };
}

type Window = Uint32Array | Float64Array;
const EMPTY_WINDOW: Window = new Uint32Array(0);

/** Options, validated once; errors name the option. */
function resolveOptions(options: NativeHistogramOptions, name: string) {
  const where = `telemeter: native histogram ${name}:`;
  let schema: number;
  if (options.schema !== undefined) {
    schema = options.schema;
    if (!Number.isInteger(schema) || schema < MIN_SCHEMA || schema > MAX_SCHEMA)
      invalidOption(`${where} option schema must be an integer from -4 to 8, got ${String(schema)}`);
  } else {
    const factor = options.bucketFactor ?? DEFAULT_BUCKET_FACTOR;
    if (typeof factor !== 'number' || !(factor > 1) || !Number.isFinite(factor))
      invalidOption(
        `${where} option bucketFactor must be a finite number > 1 (1.1 gives schema 3), got ${String(factor)}`,
      );
    schema = schemaForFactor(factor);
  }
  const zeroThreshold = options.zeroThreshold ?? DEFAULT_ZERO_THRESHOLD;
  if (typeof zeroThreshold !== 'number' || !(zeroThreshold >= 0) || !Number.isFinite(zeroThreshold))
    invalidOption(`${where} option zeroThreshold must be a finite number >= 0, got ${String(zeroThreshold)}`);
  const maxBucketCount = options.maxBucketCount ?? DEFAULT_MAX_BUCKET_COUNT;
  if (!Number.isInteger(maxBucketCount) || maxBucketCount < 2)
    invalidOption(`${where} option maxBucketCount must be an integer >= 2, got ${String(maxBucketCount)}`);
  return { schema, zeroThreshold, maxBucketCount };
}

/**
 * Native histograms of many series, addressed by series number (0, 1, …) as the reporter's other stores are.
 * `grow(n)` makes room for series 0 … n-1; a new series is empty at the initial schema and zero threshold.
 *
 * Recording ({@link observe}) into a series below the `grow` count never throws, and never allocates once the
 * series' windows cover the values it sees.
 * Reading ({@link read}) gives plain data for encoders, with {@link toSpansAndDeltas} (protobuf) and
 * {@link toOtlpBuckets} (OTLP) beside it; {@link merge} adds another series' data exactly.
 */
export class NativeHistogramStore {
  /** The schema a series starts at (and returns to on reset). */
  readonly initialSchema: number;
  readonly initialZeroThreshold: number;
  readonly maxBucketCount: number;
  /** The widest index range a side's window may span before the resolution is reduced. */
  readonly maxSpan: number;
  private capacity = 0;
  private schemas = new Int8Array(0);
  private zeroThresholds = new Float64Array(0);
  private zeroCounts = new Float64Array(0);
  /** NaN observations, in `count` but in no bucket (the count is summed when read: one write less per observation). */
  private nanCounts = new Float64Array(0);
  private sums = new Float64Array(0);
  private populated = new Uint32Array(0);
  private positiveOffsets = new Int32Array(0);
  private negativeOffsets = new Int32Array(0);
  private positive: Window[] = [];
  private negative: Window[] = [];
  /** The ±Infinity buckets, apart from the windows: their index is far from any other, so no window spans it. */
  private positiveOverflows = new Float64Array(0);
  private negativeOverflows = new Float64Array(0);
  /** Whether the windows are float64 (a count passed 2^32 - 1, or a merge added a fraction). */
  private wide = false;

  /** `name` only labels option errors (the metric's name, where there is one). */
  constructor(options: NativeHistogramOptions = {}, name = '') {
    const resolved = resolveOptions(options, name);
    this.initialSchema = resolved.schema;
    this.initialZeroThreshold = resolved.zeroThreshold;
    this.maxBucketCount = resolved.maxBucketCount;
    this.maxSpan = Math.max(4 * resolved.maxBucketCount, 256);
    ensureTables(this.initialSchema);
  }

  /** Makes room for series `0 … seriesCount - 1`. */
  grow(seriesCount: number): void {
    if (seriesCount <= this.capacity) return;
    let capacity = Math.max(8, this.capacity);
    while (capacity < seriesCount) capacity = Math.ceil(capacity * 1.5);
    const old = this.capacity;
    this.schemas = copyInto(new Int8Array(capacity), this.schemas);
    this.zeroThresholds = copyInto(new Float64Array(capacity), this.zeroThresholds);
    this.zeroCounts = copyInto(new Float64Array(capacity), this.zeroCounts);
    this.nanCounts = copyInto(new Float64Array(capacity), this.nanCounts);
    this.sums = copyInto(new Float64Array(capacity), this.sums);
    this.populated = copyInto(new Uint32Array(capacity), this.populated);
    this.positiveOffsets = copyInto(new Int32Array(capacity), this.positiveOffsets);
    this.negativeOffsets = copyInto(new Int32Array(capacity), this.negativeOffsets);
    this.positiveOverflows = copyInto(new Float64Array(capacity), this.positiveOverflows);
    this.negativeOverflows = copyInto(new Float64Array(capacity), this.negativeOverflows);
    this.schemas.fill(this.initialSchema, old);
    this.zeroThresholds.fill(this.initialZeroThreshold, old);
    for (let s = old; s < capacity; s++) {
      this.positive.push(EMPTY_WINDOW);
      this.negative.push(EMPTY_WINDOW);
    }
    this.capacity = capacity;
  }

  /** Empties series `series` and restores its initial schema and zero threshold. */
  reset(series: number): void {
    this.schemas[series] = this.initialSchema;
    this.zeroThresholds[series] = this.initialZeroThreshold;
    this.zeroCounts[series] = 0;
    this.nanCounts[series] = 0;
    this.sums[series] = 0;
    this.populated[series] = 0;
    this.positive[series] = EMPTY_WINDOW;
    this.negative[series] = EMPTY_WINDOW;
    this.positiveOverflows[series] = 0;
    this.negativeOverflows[series] = 0;
  }

  /**
   * The value {@link observeStaged} records. Callers that V8 may not inline {@link observe} into (the plain
   * recorder, for runtimes without code generation) write the value here, where a double is stored unboxed,
   * instead of passing it, which boxes it: an allocation per observation. The process's one `stagedValue`, so a
   * histogram store that stages a value for its classic buckets has staged it for its native ones too.
   */
  readonly staged = stagedValue;

  /** Records one observation. NaN counts in `count` and `sum` only; ±Infinity in the overflow buckets. */
  observe(series: number, value: number): void {
    this.staged[0] = value;
    this.observeStaged(series);
  }

  /**
   * {@link observe} of the value in {@link staged}. No double is passed to a call on this path: the magnitude goes
   * to the index computation through a shared Float64Array too.
   */
  observeStaged(series: number): void {
    const value = this.staged[0];
    this.sums[series] += value;
    const threshold = this.zeroThresholds[series];
    const positive = value > threshold;
    if (positive || value < -threshold) {
      scratch[0] = positive ? value : -value;
      const index = indexOfScratch(this.schemas[series]);
      const window = positive ? this.positive[series] : this.negative[series];
      const cell = index - (positive ? this.positiveOffsets[series] : this.negativeOffsets[series]);
      if (cell >= 0 && cell < window.length) {
        const count = window[cell] + 1;
        if (count > 1 && (count <= MAX_UINT32 || this.wide)) {
          window[cell] = count;
          return;
        }
      }
      this.addToBucket(series, positive ? 1 : -1, index, 1);
    } else if (Number.isNaN(value)) {
      this.nanCounts[series]++;
    } else {
      this.zeroCounts[series]++;
    }
  }

  schema(series: number): number {
    return this.schemas[series];
  }

  zeroThreshold(series: number): number {
    return this.zeroThresholds[series];
  }

  zeroCount(series: number): number {
    return this.zeroCounts[series];
  }

  /** Observations recorded, NaN included. */
  count(series: number): number {
    let count = this.zeroCounts[series] + this.nanCounts[series];
    for (const window of [this.positive[series], this.negative[series]]) {
      for (let cell = 0; cell < window.length; cell++) count += window[cell];
    }
    return count + this.positiveOverflows[series] + this.negativeOverflows[series];
  }

  sum(series: number): number {
    return this.sums[series];
  }

  /** Populated buckets of both signs (never more than `maxBucketCount`). */
  bucketCount(series: number): number {
    return this.populated[series];
  }

  /** Populated buckets of one sign (`1` or `-1`), by ascending index. */
  buckets(series: number, sign: 1 | -1): NativeBuckets {
    const window = sign > 0 ? this.positive[series] : this.negative[series];
    const offset = sign > 0 ? this.positiveOffsets[series] : this.negativeOffsets[series];
    const indices: number[] = [];
    const counts: number[] = [];
    for (let cell = 0; cell < window.length; cell++) {
      if (window[cell] !== 0) {
        indices.push(offset + cell);
        counts.push(window[cell]);
      }
    }
    const overflow = sign > 0 ? this.positiveOverflows[series] : this.negativeOverflows[series];
    if (overflow > 0) {
      indices.push(overflowIndex(this.schemas[series]));
      counts.push(overflow);
    }
    return { indices, counts };
  }

  /** Series `series` as plain data. */
  read(series: number): NativeHistogramData {
    const positive = this.buckets(series, 1);
    const negative = this.buckets(series, -1);
    // The count from the buckets just read, rather than a second walk over the windows (a scrape reads every series).
    let count = this.zeroCounts[series] + this.nanCounts[series];
    for (let b = 0; b < positive.counts.length; b++) count += positive.counts[b];
    for (let b = 0; b < negative.counts.length; b++) count += negative.counts[b];
    return {
      schema: this.schemas[series],
      zeroThreshold: this.zeroThresholds[series],
      zeroCount: this.zeroCounts[series],
      count,
      sum: this.sums[series],
      positive,
      negative,
    };
  }

  /**
   * Adds `data` (another series, another process's) into series `series`: both at the lower of the two schemas,
   * zero thresholds reconciled by the spec's rule (the larger one, widened past any populated bucket it would cut
   * through, those buckets moving into the zero bucket), then counts, zero counts and sums added. The bucket limit
   * applies to the result.
   */
  merge(series: number, data: NativeHistogramData): void {
    const ownSchema = this.schemas[series];
    if (data.schema === ownSchema && data.zeroThreshold === this.zeroThresholds[series]) {
      this.addAll(series, data);
      return;
    }
    const schema = Math.min(ownSchema, data.schema);
    let own = downscaleData(this.read(series), schema);
    let other = downscaleData(data, schema);
    while (own.zeroThreshold !== other.zeroThreshold) {
      if (own.zeroThreshold > other.zeroThreshold) other = widenZeroBucket(other, own.zeroThreshold);
      if (other.zeroThreshold > own.zeroThreshold) own = widenZeroBucket(own, other.zeroThreshold);
    }
    this.reset(series);
    this.schemas[series] = schema;
    this.zeroThresholds[series] = own.zeroThreshold;
    this.addAll(series, own);
    this.addAll(series, other);
  }

  /**
   * Adds `data`'s scalars and buckets, its schema being at least the series'. The series' schema can drop and
   * (at schema -4) its zero threshold rise while the buckets go in, so each bucket is placed by the current ones.
   */
  private addAll(series: number, data: NativeHistogramData): void {
    this.zeroCounts[series] += data.zeroCount;
    // The part of `count` in no bucket (NaN observations).
    let bucketed = data.zeroCount;
    for (const count of data.positive.counts) bucketed += count;
    for (const count of data.negative.counts) bucketed += count;
    this.nanCounts[series] += data.count - bucketed;
    this.sums[series] += data.sum;
    for (const sign of [1, -1] as const) {
      const { indices, counts } = sign > 0 ? data.positive : data.negative;
      for (let b = 0; b < indices.length; b++) {
        const schema = this.schemas[series];
        const index = downscaleIndex(indices[b], data.schema - schema);
        if (upperBound(index, schema) <= this.zeroThresholds[series]) this.zeroCounts[series] += counts[b];
        else this.addToBucket(series, sign, index, counts[b]);
      }
    }
  }

  /**
   * Adds `amount` to bucket `index` (at the series' current schema) of one sign: the path for everything but an
   * increment of an already populated bucket inside the window. Grows the window, widens the store to float64,
   * and enforces the limits, reducing the resolution (and `index` with it) as needed.
   */
  private addToBucket(series: number, sign: 1 | -1, index: number, amount: number): void {
    if (amount === 0) return;
    let target = index;
    for (;;) {
      if (target === overflowIndex(this.schemas[series])) {
        const overflows = sign > 0 ? this.positiveOverflows : this.negativeOverflows;
        const before = overflows[series];
        overflows[series] = before + amount;
        if (before === 0) {
          this.populated[series]++;
          this.enforceBucketLimit(series);
        }
        return;
      }
      const window = sign > 0 ? this.positive[series] : this.negative[series];
      const offset = sign > 0 ? this.positiveOffsets[series] : this.negativeOffsets[series];
      const cell = target - offset;
      if (cell >= 0 && cell < window.length) {
        const count = window[cell] + amount;
        if (!this.wide && !(Number.isInteger(count) && count <= MAX_UINT32)) this.widen();
        const current = sign > 0 ? this.positive[series] : this.negative[series];
        const before = current[cell];
        current[cell] = count;
        if (before === 0) {
          this.populated[series]++;
          this.enforceBucketLimit(series);
        }
        return;
      }
      const [low, high] = populatedRange(window, offset);
      const newLow = Math.min(low, target);
      const newHigh = Math.max(high, target);
      if (newHigh - newLow + 1 > this.maxSpan && this.schemas[series] > MIN_SCHEMA) {
        this.reduceResolution(series);
        target = downscaleIndex(target, 1);
        continue;
      }
      // Room to grow on the side the window just grew toward (both, for a first bucket): a quarter of the span.
      const span = newHigh - newLow + 1;
      const slack = Math.max(0, Math.min(this.maxSpan - span, Math.max(4, span >> 2)));
      const start = window.length === 0 ? newLow - (slack >> 1) : target < low ? newLow - slack : newLow;
      const grown: Window = this.wide ? new Float64Array(span + slack) : new Uint32Array(span + slack);
      for (let c = 0; c < window.length; c++) if (window[c] !== 0) grown[offset + c - start] = window[c];
      if (sign > 0) {
        this.positive[series] = grown;
        this.positiveOffsets[series] = start;
      } else {
        this.negative[series] = grown;
        this.negativeOffsets[series] = start;
      }
    }
  }

  private enforceBucketLimit(series: number): void {
    while (this.populated[series] > this.maxBucketCount && this.schemas[series] > MIN_SCHEMA)
      this.reduceResolution(series);
    while (this.populated[series] > this.maxBucketCount && this.swallowNearestBucket(series));
  }

  /** Halves the resolution of one series: schema - 1, each pair of neighbour buckets merged. */
  private reduceResolution(series: number): void {
    this.schemas[series]--;
    // Merged in float64, where two 32-bit counts cannot wrap; kept 32-bit unless one merged count needs more.
    const positive = mergePairs(this.positive[series], this.positiveOffsets[series]);
    const negative = mergePairs(this.negative[series], this.negativeOffsets[series]);
    if (!this.wide && (positive.largest > MAX_UINT32 || negative.largest > MAX_UINT32)) this.widen();
    this.positive[series] = this.wide ? positive.window : Uint32Array.from(positive.window);
    this.negative[series] = this.wide ? negative.window : Uint32Array.from(negative.window);
    this.positiveOffsets[series] = positive.offset;
    this.negativeOffsets[series] = negative.offset;
    this.populated[series] =
      positive.populated +
      negative.populated +
      (this.positiveOverflows[series] > 0 ? 1 : 0) +
      (this.negativeOverflows[series] > 0 ? 1 : 0);
  }

  /** At schema -4 with too many buckets: the zero bucket takes the populated bucket nearest zero (either sign). */
  private swallowNearestBucket(series: number): boolean {
    const schema = this.schemas[series];
    const lowest = Math.min(
      populatedRange(this.positive[series], this.positiveOffsets[series])[0],
      populatedRange(this.negative[series], this.negativeOffsets[series])[0],
    );
    // The overflow bucket is never swallowed: the limit is at least 2, and only ±Inf share its index.
    if (lowest >= overflowIndex(schema)) return false;
    const threshold = upperBound(lowest, schema);
    let swallowed = 0;
    let removed = 0;
    for (const sign of [1, -1] as const) {
      const window = sign > 0 ? this.positive[series] : this.negative[series];
      const offset = sign > 0 ? this.positiveOffsets[series] : this.negativeOffsets[series];
      for (let cell = 0; cell < window.length && offset + cell <= lowest; cell++) {
        if (window[cell] !== 0) {
          swallowed += window[cell];
          removed++;
          window[cell] = 0;
        }
      }
    }
    this.zeroThresholds[series] = threshold;
    this.zeroCounts[series] += swallowed;
    this.populated[series] -= removed;
    return true;
  }

  /** Moves every window of the store to float64, once. */
  private widen(): void {
    this.wide = true;
    for (let s = 0; s < this.capacity; s++) {
      if (this.positive[s].length > 0) this.positive[s] = Float64Array.from(this.positive[s]);
      if (this.negative[s].length > 0) this.negative[s] = Float64Array.from(this.negative[s]);
    }
  }
}

function copyInto<T extends Int8Array | Int32Array | Uint32Array | Float64Array>(target: T, source: T): T {
  target.set(source);
  return target;
}

/** A window at half the resolution: each pair of neighbour cells merged, in float64. */
function mergePairs(
  window: Window,
  offset: number,
): { window: Float64Array; offset: number; populated: number; largest: number } {
  if (window.length === 0) return { window: new Float64Array(0), offset: 0, populated: 0, largest: 0 };
  const newOffset = downscaleIndex(offset, 1);
  const merged = new Float64Array(downscaleIndex(offset + window.length - 1, 1) - newOffset + 1);
  for (let cell = 0; cell < window.length; cell++)
    merged[downscaleIndex(offset + cell, 1) - newOffset] += window[cell];
  let populated = 0;
  let largest = 0;
  for (let cell = 0; cell < merged.length; cell++) {
    if (merged[cell] !== 0) populated++;
    if (merged[cell] > largest) largest = merged[cell];
  }
  return { window: merged, offset: newOffset, populated, largest };
}

/** The lowest and highest populated index of a window, or [+Infinity, -Infinity] when none is. */
function populatedRange(window: Window, offset: number): [number, number] {
  let first = 0;
  while (first < window.length && window[first] === 0) first++;
  if (first === window.length) return [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
  let last = window.length - 1;
  while (window[last] === 0) last--;
  return [offset + first, offset + last];
}

function downscaleBuckets(buckets: NativeBuckets, delta: number): NativeBuckets {
  if (delta === 0) return buckets;
  const indices: number[] = [];
  const counts: number[] = [];
  for (let b = 0; b < buckets.indices.length; b++) {
    const index = downscaleIndex(buckets.indices[b], delta);
    if (indices.length > 0 && indices[indices.length - 1] === index)
      counts[counts.length - 1] += buckets.counts[b];
    else {
      indices.push(index);
      counts.push(buckets.counts[b]);
    }
  }
  return { indices, counts };
}

/** `data` at the lower (or equal) schema `schema`. */
export function downscaleData(data: NativeHistogramData, schema: number): NativeHistogramData {
  const delta = data.schema - schema;
  if (delta === 0) return data;
  return {
    ...data,
    schema,
    positive: downscaleBuckets(data.positive, delta),
    negative: downscaleBuckets(data.negative, delta),
  };
}

/**
 * `data` with a zero threshold of at least `threshold` (prometheus `zeroCountForLargerThreshold`): every bucket
 * that starts below the threshold moves into the zero bucket, and where the threshold would cut through a
 * populated bucket it is raised to that bucket's upper bound, so the zero bucket never splits one.
 */
export function widenZeroBucket(data: NativeHistogramData, threshold: number): NativeHistogramData {
  let target = threshold;
  const { schema } = data;
  for (;;) {
    let zeroCount = data.zeroCount;
    let raised = false;
    const kept: NativeBuckets[] = [];
    for (const buckets of [data.positive, data.negative]) {
      let b = 0;
      while (b < buckets.indices.length && upperBound(buckets.indices[b] - 1, schema) < target) {
        zeroCount += buckets.counts[b];
        const upper = upperBound(buckets.indices[b], schema);
        if (upper > target) {
          target = upper;
          raised = true;
        }
        b++;
      }
      kept.push({ indices: buckets.indices.slice(b), counts: buckets.counts.slice(b) });
    }
    if (!raised) return { ...data, zeroThreshold: target, zeroCount, positive: kept[0], negative: kept[1] };
  }
}
