import type { NativeBuckets, NativeHistogramData } from '../reporter/index.js';
import type { EncodedNative } from './protocol.js';

/** The coarsest and finest standard schemas: a worker's native histogram is always within them. */
const MIN_SCHEMA = -4;
const MAX_SCHEMA = 8;

/** A native histogram delta as sent on the wire (see {@link EncodedNative}). */
export function encodeNative(data: NativeHistogramData): EncodedNative {
  return {
    s: data.schema,
    t: data.zeroThreshold,
    z: data.zeroCount,
    c: data.count,
    u: data.sum,
    p: pairsOf(data.positive),
    n: pairsOf(data.negative),
  };
}

/**
 * The native histogram a worker sent, or undefined when it is malformed: a schema outside -4…8, a negative or
 * non-finite threshold or count, indices not integers in ascending order or beyond the schema's overflow bucket
 * (which would make the primary allocate a window for them), a count below what the buckets hold. The sum may be
 * anything a recording can make it (NaN and ±Infinity included).
 */
export function decodeNative(encoded: unknown): NativeHistogramData | undefined {
  if (typeof encoded !== 'object' || encoded === null) return undefined;
  const { s, t, z, c, u, p, n } = encoded as Record<string, unknown>;
  if (!(Number.isInteger(s) && (s as number) >= MIN_SCHEMA && (s as number) <= MAX_SCHEMA)) return undefined;
  if (!(isCount(t) && isCount(z) && isCount(c) && typeof u === 'number')) return undefined;
  const schema = s as number;
  const positive = bucketsOf(p, schema);
  const negative = bucketsOf(n, schema);
  if (positive === undefined || negative === undefined) return undefined;
  let bucketed = z;
  for (const count of positive.counts) bucketed += count;
  for (const count of negative.counts) bucketed += count;
  if (c < bucketed) return undefined;
  return { schema, zeroThreshold: t, zeroCount: z, count: c, sum: u, positive, negative };
}

function pairsOf(buckets: NativeBuckets): number[] {
  const pairs: number[] = [];
  for (let b = 0; b < buckets.indices.length; b++) pairs.push(buckets.indices[b], buckets.counts[b]);
  return pairs;
}

function bucketsOf(pairs: unknown, schema: number): NativeBuckets | undefined {
  if (!Array.isArray(pairs) || pairs.length % 2 !== 0) return undefined;
  // The overflow bucket's index (MaxFloat64 is in the one before); the smallest subnormal is above its negation.
  const limit = (schema >= 0 ? 1024 << schema : 1024 >> -schema) + 1;
  const indices: number[] = [];
  const counts: number[] = [];
  let last = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < pairs.length; i += 2) {
    const index = pairs[i];
    const count = pairs[i + 1];
    if (!(Number.isInteger(index) && index > last && index <= limit && index >= -2 * limit)) return undefined;
    if (!(isCount(count) && count > 0)) return undefined;
    indices.push(index);
    counts.push(count);
    last = index;
  }
  return { indices, counts };
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && value >= 0 && Number.isFinite(value);
}
