import {
  downscaleData,
  type NativeBuckets,
  type NativeHistogramData,
  widenZeroBucket,
} from './native-histogram.js';

/**
 * What was observed in one series' native histogram between two reads of it: `current` minus `previous`, at
 * `current`'s schema and zero threshold. The worker side of a cluster merge and OTLP's delta temporality both
 * need it.
 *
 * A series only ever lowers its resolution and widens its zero bucket while it lives (the spec's "compatible
 * resolution reduction", REFERENCE §11.4), so `previous` is first brought to `current`'s schema and threshold,
 * where every bucket of it is a part of a bucket of `current`, and the subtraction is exact. Undefined when
 * `current` cannot have grown from `previous` (a higher schema, a narrower zero bucket, a count or a bucket that
 * went down): the series was reset, and all of `current` is new.
 */
export function nativeDifference(
  current: NativeHistogramData,
  previous: NativeHistogramData,
): NativeHistogramData | undefined {
  if (current.schema > previous.schema || current.zeroThreshold < previous.zeroThreshold) return undefined;
  if (current.count < previous.count) return undefined;
  let before = downscaleData(previous, current.schema);
  if (before.zeroThreshold < current.zeroThreshold) before = widenZeroBucket(before, current.zeroThreshold);
  // Widening can stop at a bucket boundary above the current threshold only if the current one cut a bucket.
  if (before.zeroThreshold !== current.zeroThreshold) return undefined;
  const zeroCount = current.zeroCount - before.zeroCount;
  const positive = subtractBuckets(current.positive, before.positive);
  const negative = subtractBuckets(current.negative, before.negative);
  if (zeroCount < 0 || positive === undefined || negative === undefined) return undefined;
  return {
    schema: current.schema,
    zeroThreshold: current.zeroThreshold,
    zeroCount,
    count: current.count - before.count,
    sum: current.sum - before.sum,
    positive,
    negative,
  };
}

/** `current - previous` bucket by bucket (both by ascending index), zeros left out; undefined if one went down. */
function subtractBuckets(current: NativeBuckets, previous: NativeBuckets): NativeBuckets | undefined {
  const indices: number[] = [];
  const counts: number[] = [];
  let p = 0;
  for (let c = 0; c < current.indices.length; c++) {
    const index = current.indices[c];
    // A bucket of `previous` that `current` no longer has went down to zero.
    if (p < previous.indices.length && previous.indices[p] < index) return undefined;
    let count = current.counts[c];
    if (p < previous.indices.length && previous.indices[p] === index) count -= previous.counts[p++];
    if (count < 0) return undefined;
    if (count > 0) {
      indices.push(index);
      counts.push(count);
    }
  }
  return p === previous.indices.length ? { indices, counts } : undefined;
}
