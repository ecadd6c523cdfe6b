/** How long one step of an interruptible sort may run before it hands control back, in milliseconds. */
const STEP_BUDGET_MS = 4;
/** Comparisons between two clock reads: reading the clock is not free either. */
const CHECK_EVERY = 2048;

/**
 * Sorts series indices by their label blocks with a bottom-up merge sort that pauses every few milliseconds:
 * each pause is a `yield`, so a caller streaming a scrape can let the event loop run. Sorting 100 000 fresh
 * series in one go stalled the loop for over 100 ms; in steps no pause exceeds the budget by much.
 * Returns the sorted indices.
 */
export function* sortByLabels(indices: Uint32Array, blocks: readonly string[]): Generator<void, Uint32Array> {
  const n = indices.length;
  let source: Uint32Array = indices;
  let target: Uint32Array = new Uint32Array(n);
  let comparisons = 0;
  let stepStart = performance.now();
  const less = (a: number, b: number) => blocks[a] < blocks[b];

  for (let width = 1; width < n; width *= 2) {
    for (let low = 0; low < n; low += 2 * width) {
      const mid = Math.min(low + width, n);
      const high = Math.min(low + 2 * width, n);
      let i = low;
      let j = mid;
      let k = low;
      while (i < mid && j < high) {
        target[k++] = less(source[j], source[i]) ? source[j++] : source[i++];
        if (++comparisons % CHECK_EVERY === 0 && performance.now() - stepStart > STEP_BUDGET_MS) {
          yield;
          stepStart = performance.now();
        }
      }
      while (i < mid) target[k++] = source[i++];
      while (j < high) target[k++] = source[j++];
    }
    [source, target] = [target, source];
  }
  return source;
}
