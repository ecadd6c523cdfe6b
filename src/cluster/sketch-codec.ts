import type { BinStore, LogSketch } from '../reporter/log-sketch.js';
import type { EncodedSketch } from './protocol.js';

/** The bins of a sketch as sparse pairs: a few observations since the last flush touch only a few bins. */
export function encodeSketch(sketch: LogSketch): EncodedSketch {
  return { p: encodeBins(sketch.positive), n: encodeBins(sketch.negative), z: sketch.zeroCount };
}

/**
 * Adds an encoded sketch's counts into `target`, which must have the accuracy the sketch was made with (the
 * caller checks it once per family). Bins are counts, so merging is exact: quantiles come from the merged
 * distribution, never from adding up per-worker quantiles. Malformed pairs are skipped.
 */
export function mergeEncodedSketch(target: LogSketch, encoded: EncodedSketch): void {
  const added = addBins(target.positive, encoded.p) + addBins(target.negative, encoded.n);
  const zeros = validCount(encoded.z) ? encoded.z : 0;
  target.zeroCount += zeros;
  target.count += added + zeros;
}

function encodeBins(store: BinStore): number[] {
  const pairs: number[] = [];
  const { counts, offset } = store;
  for (let i = 0; i < counts.length; i++) {
    if (counts[i] !== 0) pairs.push(i + offset, counts[i]);
  }
  return pairs;
}

function addBins(store: BinStore, pairs: unknown): number {
  if (!Array.isArray(pairs)) return 0;
  let added = 0;
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    const index = pairs[i];
    const count = pairs[i + 1];
    if (Number.isInteger(index) && validCount(count)) {
      store.add(index, count);
      added += count;
    }
  }
  return added;
}

function validCount(value: unknown): value is number {
  return typeof value === 'number' && value > 0 && Number.isFinite(value);
}
