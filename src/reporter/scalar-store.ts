import { ensureCapacity } from './growable.js';
import { stagedValue } from './staged-value.js';

/** One float per series: counters and sums add into it, last values overwrite it. */
export class ScalarStore {
  values: Float64Array = new Float64Array(8);

  constructor(readonly mode: 'add' | 'set') {}

  grow(series: number): void {
    this.values = ensureCapacity(this.values, series);
  }

  reset(series: number): void {
    this.values[series] = 0;
  }

  observe(series: number, value: number): void {
    stagedValue[0] = value;
    this.observeStaged(series);
  }

  /** {@link observe} of the value in `stagedValue`. */
  observeStaged(series: number): void {
    if (this.mode === 'add') this.values[series] += stagedValue[0];
    else this.values[series] = stagedValue[0];
  }

  add(series: number, value: number): void {
    this.values[series] += value;
  }

  set(series: number, value: number): void {
    this.values[series] = value;
  }
}
