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
    const cells = (series + 1) * this.slots;
    this.values = ensureCapacity(this.values, cells);
    this.times = ensureCapacity(this.times, cells);
    // Filled up front: an array written at an index past its end turns sparse, and V8 then keeps it as a
    // dictionary, which measured several times slower to write on every exemplar.
    const labels = this.labels;
    while (labels.length < this.values.length) labels.push(undefined);
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
      if (typeof text !== 'string') return DropReason.invalidExemplar;
      const opening = openingOf(name);
      if (opening === undefined) return DropReason.invalidExemplar;
      // Label names are ASCII: one code point per character.
      budget -= name.length;
      const scan = scanValue(text, budget);
      if (scan < 0) return DropReason.exemplarTooLong;
      budget = scan >>> 2;
      // Most values (hex trace ids) need neither escaping nor repair: the scan said so, so no regular expression runs.
      const value =
        (scan & NEEDS_ESCAPE) === 0
          ? text
          : escapeLabelValue((scan & LONE_SURROGATE) === 0 ? text : text.toWellFormed());
      block = block === '' ? `${opening}${value}"` : `${block},${opening}${value}"`;
    }
    this.labels[cell] = block;
    this.values[cell] = value;
    this.times[cell] = Date.now();
    return DropReason.ok;
  }

  /**
   * Keeps an exemplar another process recorded (and validated), when it is at least as recent as the one `cell`
   * holds: with several workers, the latest wins.
   */
  put(cell: number, labelBlock: string, value: number, timestamp: number): void {
    if (this.labels[cell] !== undefined && this.times[cell] > timestamp) return;
    this.labels[cell] = labelBlock;
    this.values[cell] = value;
    this.times[cell] = timestamp;
  }

  /** The exemplar of `cell`, or undefined when it has none. A new object per call. */
  read(cell: number): Exemplar | undefined {
    const block = this.labels[cell];
    if (block === undefined) return undefined;
    return new StoredExemplar(block, this.values[cell], this.times[cell]);
  }
}

/** Valid exemplar label names seen so far, each with its `name="` opening: names repeat, so each is checked once. */
const openings = new Map<string, string>();
const MAX_REMEMBERED_NAMES = 256;

function openingOf(name: string): string | undefined {
  const known = openings.get(name);
  if (known !== undefined) return known;
  if (!isValidLabelName(name)) return undefined;
  const opening = `${name}="`;
  if (openings.size < MAX_REMEMBERED_NAMES) openings.set(name, opening);
  return opening;
}

/** Flags of {@link scanValue}'s result. */
const NEEDS_ESCAPE = 1;
const LONE_SURROGATE = 2;

/**
 * One pass over a label value: `budget` less its code points, shifted left by two, with {@link NEEDS_ESCAPE} when it
 * holds a backslash, a double quote, a line feed or a lone surrogate, and {@link LONE_SURROGATE} for the latter; or
 * -1 once the budget runs out, so a hostile megabyte-long value costs no more than a 128-character one. A surrogate
 * pair is one code point; a lone surrogate is one too (written as U+FFFD).
 */
function scanValue(text: string, budget: number): number {
  let left = budget;
  let flags = 0;
  for (let i = 0; i < text.length; i++) {
    if (--left < 0) return -1;
    const unit = text.charCodeAt(i);
    if (unit === 0x5c || unit === 0x22 || unit === 0x0a) flags |= NEEDS_ESCAPE;
    else if (unit >= 0xd800 && unit <= 0xdfff) {
      const next = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
      if (unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) i++;
      else flags |= NEEDS_ESCAPE | LONE_SURROGATE;
    }
  }
  return (left << 2) | flags;
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
