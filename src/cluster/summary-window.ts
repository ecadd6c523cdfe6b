import { errorOnce } from '../logger.js';
import { LogSketch } from '../reporter/log-sketch.js';
import type { SummaryStore } from '../reporter/summary-store.js';

/**
 * Observations a worker has recorded into a summary since its last flush, one sketch per series.
 *
 * A summary's window cannot be diffed: rotation clears slots, so "what changed since the last flush" is not
 * "window now minus window then". Instead this taps the store's `observe` and adds each value to a second
 * sketch that a flush takes and empties. The tap costs one more sketch add per observation, in workers only.
 */
export class UnsentObservations {
  private readonly pending: (LogSketch | undefined)[] = [];
  private tapped = false;
  private everTapped = false;

  constructor(private readonly store: SummaryStore) {}

  /**
   * Starts keeping observations. The first time, the observations already in the window (recorded before
   * the exporter started) are kept too, so the first flush ships them; a later resume starts empty, as those
   * were shipped before the pause.
   */
  tap(): void {
    if (this.tapped) return;
    const { store, pending } = this;
    if (!this.everTapped) {
      for (let s = 0; s < store.windows.length; s++) {
        const window = store.window(s);
        if (window.count > 0) pending[s] = window;
      }
    }
    this.tapped = true;
    this.everTapped = true;
    const original = store.observe;
    const accuracy = store.relativeAccuracy;
    store.observe = function observeAndKeep(this: SummaryStore, series: number, value: number): void {
      original.call(this, series, value);
      let sketch = pending[series];
      if (sketch === undefined) {
        sketch = new LogSketch(accuracy);
        pending[series] = sketch;
      }
      sketch.add(value);
    };
  }

  /** The unsent observations of `series`, or undefined when there are none; the caller empties it. */
  of(series: number): LogSketch | undefined {
    const sketch = this.pending[series];
    return sketch !== undefined && sketch.count > 0 ? sketch : undefined;
  }

  /** Restores the store's own `observe`. */
  untap(): void {
    if (!this.tapped) return;
    this.tapped = false;
    delete (this.store as { observe?: unknown }).observe;
  }
}

/**
 * The sketch of the slot of `series`'s window that currently takes observations, created when empty.
 *
 * Merged observations go there, so the primary's own rotation ages them out on its clock: a crashed worker's
 * observations leave the quantiles after `maxAgeSeconds`, while its `_sum` and `_count` stay. SummaryStore
 * keeps the slot index private; it is read here, in one place, and test/cluster checks it after a rotation.
 */
export function currentWindowSketch(store: SummaryStore, series: number): LogSketch {
  const slots = store.windows[series];
  let slot = (store as unknown as { current?: unknown }).current;
  if (!(Number.isInteger(slot) && (slot as number) >= 0 && (slot as number) < slots.length)) {
    errorOnce(
      'cluster:summary-slot',
      'telemeter/cluster: cannot find the current window slot of a summary; merged quantiles may age out early',
    );
    slot = 0;
  }
  const index = slot as number;
  let sketch = slots[index];
  if (sketch === undefined) {
    sketch = new LogSketch(store.relativeAccuracy);
    slots[index] = sketch;
  }
  return sketch;
}
