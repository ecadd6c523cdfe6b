/**
 * The value a recorder hands to a store's `observeStaged(series)`. A double passed as an argument to a call that
 * V8 does not inline is boxed, 16 bytes per observation; written here, it stays unboxed. The plain recorder (for
 * runtimes without code generation) shares one closure's feedback across every metric, so its call into the store
 * sees several store classes and is not always inlined: it stages the value. One array for the process: each
 * store reads it right after the recorder writes it, with no other recording in between.
 */
export const stagedValue = new Float64Array(1);
