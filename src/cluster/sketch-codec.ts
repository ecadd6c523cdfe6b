import type { SketchBins, SummaryMerge } from '../reporter/index.js';
import type { EncodedSketch } from './protocol.js';

/** The bins of a sketch as sparse pairs: a few observations since the last flush touch only a few bins. */
export function encodeSketch(bins: SketchBins): EncodedSketch {
  return { p: bins.positive, n: bins.negative, z: bins.zeroCount };
}

/**
 * Adds an encoded sketch's counts into the window of `series`, whose family must have the schema the sketch was
 * made with (the caller checks it once per family). Bins are counts, so merging is exact: quantiles come from the
 * merged distribution, never from adding up per-worker quantiles. Malformed pairs are skipped.
 */
export function mergeEncodedSketch(target: SummaryMerge, series: number, encoded: EncodedSketch): void {
  addBins(target, series, 1, encoded.p);
  addBins(target, series, -1, encoded.n);
  if (validCount(encoded.z)) target.addToWindow(series, 0, 0, encoded.z);
}

function addBins(target: SummaryMerge, series: number, sign: number, pairs: unknown): void {
  if (!Array.isArray(pairs)) return;
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    const index = pairs[i];
    const count = pairs[i + 1];
    if (Number.isInteger(index) && validCount(count)) target.addToWindow(series, sign, index, count);
  }
}

function validCount(value: unknown): value is number {
  return typeof value === 'number' && value > 0 && Number.isFinite(value);
}
