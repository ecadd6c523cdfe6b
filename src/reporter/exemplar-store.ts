import { isValidLabelName } from '../metrics/names.js';
import { DropReason, type DropReasonCode } from './drop-reasons.js';
import { ensureCapacity } from './growable.js';
import { escapeLabelValue, forEachLabel } from './label-block.js';
import type { Exemplar } from './read-model.js';

/** OpenMetrics 1.0: an exemplar's label names and values together hold at most 128 UTF-8 code points. */
export const MAX_EXEMPLAR_LABEL_CODE_POINTS = 128;

/**
 * The last exemplar of every cell of one family: one cell per counter series, or one per histogram bucket
 * (`series * slots + bucket`, the cell of the bucket's count). Built only for a metric whose definition has an
 * `exemplar` function, so metrics without one keep nothing and pay nothing.
 *
 * A native-only histogram has one classic bucket, `+Inf`, so its exemplars land there: the one a Prometheus 2.42
 * attaches to the native series (it reads classic-bucket exemplars only).
 *
 * An exemplar's labels are validated and rendered once, when it is recorded (one string per exemplar kept), rather
 * than at each scrape: an exemplar that cannot be exposed is refused while the event is at hand to count it, and
 * the user's object is not kept, so a later change to it changes nothing.
 */
export class ExemplarStore {
  /** The label block of each cell's exemplar, as OpenMetrics writes it between braces; undefined for none. */
  private labels: (string | undefined)[] = [];
  private values: Float64Array = new Float64Array(8);
  /** When each exemplar was recorded, in milliseconds since the epoch. */
  private times: Float64Array = new Float64Array(8);

  constructor(
    /** Cells per series: 1 for a counter, the bucket count for a histogram. */
    readonly slots: number,
  ) {}

  grow(series: number): void {
    this.values = ensureCapacity(this.values, (series + 1) * this.slots);
    this.times = ensureCapacity(this.times, (series + 1) * this.slots);
  }

  reset(series: number): void {
    for (let cell = series * this.slots; cell < (series + 1) * this.slots; cell++) {
      this.labels[cell] = undefined;
    }
  }

  /**
   * Keeps `labels` (what the exemplar function returned) with `value` as the exemplar of `cell`, stamped now, or
   * says why it cannot be exposed. The exemplar the cell held stays when the new one is refused.
   */
  record(cell: number, value: number, labels: unknown): DropReasonCode {
    if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) {
      return DropReason.invalidExemplar;
    }
    let block = '';
    let budget = MAX_EXEMPLAR_LABEL_CODE_POINTS;
    for (const name in labels) {
      if (!Object.hasOwn(labels, name)) continue;
      const text = (labels as Record<string, unknown>)[name];
      if (typeof text !== 'string' || !isValidLabelName(name)) return DropReason.invalidExemplar;
      // Label names are ASCII: one code point per character.
      budget -= name.length;
      budget = spendCodePoints(text, budget);
      if (budget < 0) return DropReason.exemplarTooLong;
      const value = text.isWellFormed() ? text : text.toWellFormed();
      block += `${block === '' ? '' : ','}${name}="${escapeLabelValue(value)}"`;
    }
    this.labels[cell] = block;
    this.values[cell] = value;
    this.times[cell] = Date.now();
    return DropReason.ok;
  }

  /** The exemplar of `cell`, or undefined when it has none. A new object per call. */
  read(cell: number): Exemplar | undefined {
    const block = this.labels[cell];
    if (block === undefined) return undefined;
    return new StoredExemplar(block, this.values[cell], this.times[cell]);
  }
}

/**
 * `budget` less the code points of `text`, stopping once it is below zero: a hostile megabyte-long value costs no
 * more than a 128-character one. A surrogate pair is one code point; a lone surrogate is one too (written as U+FFFD).
 */
function spendCodePoints(text: string, budget: number): number {
  let left = budget;
  for (let i = 0; i < text.length && left >= 0; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    left--;
  }
  return left;
}

class StoredExemplar implements Exemplar {
  constructor(
    readonly labelBlock: string,
    readonly value: number,
    readonly timestamp: number,
  ) {}

  forEachLabel(visit: (name: string, value: string) => void): void {
    forEachLabel(this.labelBlock, visit);
  }
}
