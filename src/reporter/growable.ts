/** A Float64Array resized by doubling, so stores grow with their series without reallocating per series. */
export function ensureCapacity(array: Float64Array, needed: number): Float64Array {
  if (needed <= array.length) return array;
  let capacity = Math.max(8, array.length);
  while (capacity < needed) capacity *= 2;
  const grown = new Float64Array(capacity);
  grown.set(array);
  return grown;
}
