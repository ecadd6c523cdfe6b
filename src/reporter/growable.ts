/** The typed arrays that stores and tables keep per series. */
export type GrowableArray = Float64Array | Uint32Array | Uint8Array;

/**
 * `array` with room for at least `needed` elements, grown by half again each time: series arrive one at a time,
 * so growth must be amortized, but doubling would leave up to half of every per-series array unused.
 */
export function ensureCapacity<T extends GrowableArray>(array: T, needed: number): T {
  if (needed <= array.length) return array;
  let capacity = Math.max(8, array.length);
  while (capacity < needed) capacity = Math.ceil(capacity * 1.5);
  const grown = new (array.constructor as new (length: number) => T)(capacity);
  grown.set(array);
  return grown;
}
