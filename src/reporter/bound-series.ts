import { DropReason } from './drop-reasons.js';
import type { StoredFamily } from './family.js';

/**
 * One series of one metric, resolved once: `record` skips the event bus, the definition's keep/tag logic and
 * the series lookup, and goes straight to the store. For the hottest call sites.
 */
export interface SeriesHandle {
  /**
   * Records one measurement, in the unit the definition converts from (the unit ratio is applied).
   * A counter counts one per call and ignores the value. Never throws: a non-finite value is counted as dropped.
   */
  record(value?: number): void;
}

export class BoundSeries implements SeriesHandle {
  private readonly countsEvents: boolean;
  private readonly monotonic: boolean;

  constructor(
    private readonly family: StoredFamily,
    private readonly series: number,
    private readonly ratio: number,
    private readonly onDrop: (reason: number) => void,
  ) {
    this.countsEvents = family.definition?.type === 'counter';
    this.monotonic = family.definition?.type === 'sum' && family.kind === 'counter';
  }

  record(value = 1): void {
    if (this.countsEvents) {
      this.family.store.observe(this.series, 1);
      return;
    }
    if (typeof value !== 'number') {
      this.onDrop(DropReason.invalidMeasurement);
      return;
    }
    const converted = value * this.ratio;
    if (converted - converted !== 0) {
      this.onDrop(DropReason.invalidMeasurement);
      return;
    }
    if (this.monotonic && converted < 0) {
      this.onDrop(DropReason.negativeCounter);
      return;
    }
    this.family.store.observe(this.series, converted);
  }
}
