import { LogSketch } from '../reporter/log-sketch.js';
import type { SummaryStore } from '../reporter/summary-store.js';

/**
 * Observations a worker has recorded into a summary since its last flush, one sketch per series.
 *
 * A summary's window cannot be diffed: rotation clears slots, so "what changed since the last flush" is not
 * "window now minus window then". Instead this taps the store's `observeBin` and adds each value to a second
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
      for (let s = 0; s < store.seriesCount; s++) {
        const window = store.window(s);
        if (window.count > 0) pending[s] = window;
      }
    }
    this.tapped = true;
    this.everTapped = true;
    const original = store.observeBin;
    const accuracy = store.relativeAccuracy;
    store.observeBin = function observeAndKeep(
      this: SummaryStore,
      series: number,
      sign: number,
      index: number,
    ): void {
      original.call(this, series, sign, index);
      let sketch = pending[series];
      if (sketch === undefined) {
        sketch = new LogSketch(accuracy);
        pending[series] = sketch;
      }
      sketch.addBin(sign, index);
    };
  }

  /** The unsent observations of `series`, or undefined when there are none; the caller empties it. */
  of(series: number): LogSketch | undefined {
    const sketch = this.pending[series];
    return sketch !== undefined && sketch.count > 0 ? sketch : undefined;
  }

  /** Restores the store's own `observeBin`. */
  untap(): void {
    if (!this.tapped) return;
    this.tapped = false;
    delete (this.store as { observeBin?: unknown }).observeBin;
  }
}
