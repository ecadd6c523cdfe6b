import { runCollectors } from '../events/index.js';
import {
  type FamilyMerge,
  familyMerges,
  type HistogramFamily,
  type MetricFamily,
  type NativeHistogramData,
  nativeDifference,
  type ObservationTap,
  type ScalarFamily,
  type SummaryFamily,
  type SummaryMerge,
} from '../reporter/index.js';
import type { Telemeter } from '../telemeter.js';
import { isShipped } from './family-shape.js';
import { encodeNative } from './native-codec.js';
import type { EncodedSketch, FamilyDelta, FamilyShape } from './protocol.js';
import { encodeSketch } from './sketch-codec.js';

/** Series entries per message: bounds the JSON a primary parses in one go, and the work of one apply slice. */
export const DEFAULT_ENTRIES_PER_MESSAGE = 1024;

const NO_NATIVE: NativeHistogramData = Object.freeze({
  schema: 0,
  zeroThreshold: 0,
  zeroCount: 0,
  count: 0,
  sum: 0,
  positive: { indices: [], counts: [] },
  negative: { indices: [], counts: [] },
});

const NO_OBSERVATIONS: EncodedSketch = Object.freeze({ p: [], n: [], z: 0 }) as EncodedSketch;

/** Fills one message at a time, up to `maxEntries` series entries. */
class DeltaBatch {
  private message: FamilyDelta[] = [];
  private entries = 0;
  private current: FamilyDelta | undefined;

  constructor(private readonly maxEntries: number) {}

  /** True when the message holds `maxEntries` entries: take it before adding more. */
  get full(): boolean {
    return this.entries >= this.maxEntries;
  }

  get empty(): boolean {
    return this.entries === 0;
  }

  /** The message filled so far; the batch starts a new one. */
  take(): FamilyDelta[] {
    const message = this.message;
    this.message = [];
    this.entries = 0;
    this.current = undefined;
    return message;
  }

  /** The delta of `tracker`'s family in the message being filled, counting one more entry. */
  entry(tracker: FamilyTracker): FamilyDelta {
    this.entries++;
    if (this.current === undefined || this.current.name !== tracker.name) {
      this.current = {
        name: tracker.name,
        shape: tracker.shape,
        layout: tracker.layout,
        ...(tracker.histogram === undefined ? {} : { histogram: tracker.histogram }),
        announce: [],
        data: [],
        ...(tracker.shape === 'summary' ? { sketches: [] } : {}),
        ...(tracker.exemplars ? { exemplars: [] } : {}),
        ...(tracker.histogram === undefined ? {} : { natives: [] }),
      };
      this.message.push(this.current);
    }
    return this.current;
  }
}

/** What one family last sent, and the code that diffs against it. */
abstract class FamilyTracker {
  readonly name: string;
  readonly shape: FamilyShape;
  readonly layout: number;
  /** A histogram family's layout when it has native buckets. */
  readonly histogram: FamilyDelta['histogram'];
  protected readonly family: MetricFamily;
  /** 1 for series whose tag values the primary has in this session. */
  protected announced = new Uint8Array(8);
  /** The table's incarnation of each index when last looked at: another one means the index was reused. */
  private readonly holders: (number | undefined)[] = [];
  /** Whether the family keeps exemplars, which then ship with the series that changed. */
  readonly exemplars: boolean;
  /** The time of the exemplar last sent for each cell (series × buckets), 0 for none. */
  private sentExemplars: Float64Array = new Float64Array(8);

  constructor(merge: FamilyMerge) {
    this.family = merge.family;
    this.name = merge.family.name;
    this.shape = merge.shape;
    this.layout = merge.layout;
    const family = merge.family;
    this.histogram = family.kind === 'histogram' && family.layout !== 'classic' ? family.layout : undefined;
    this.exemplars =
      (merge.family.kind === 'counter' || merge.family.kind === 'histogram') && merge.family.exemplars;
  }

  /**
   * Adds the exemplars of series `s` recorded since they were last sent to `delta`. An exemplar comes with an
   * event that changes its series, so looking at changed series finds them all (but one that added 0 to a sum).
   */
  protected shipExemplars(delta: FamilyDelta, s: number): void {
    const family = this.family;
    if (!this.exemplars || delta.exemplars === undefined) return;
    const slots = family.kind === 'histogram' ? family.buckets : 1;
    this.sentExemplars = ensureCapacity(this.sentExemplars, (s + 1) * slots);
    for (let b = 0; b < slots; b++) {
      const exemplar =
        family.kind === 'histogram' ? family.exemplar(s, b) : (family as ScalarFamily).exemplar(s);
      if (exemplar === undefined || exemplar.timestamp === this.sentExemplars[s * slots + b]) continue;
      delta.exemplars.push(s, b, exemplar.labelBlock, exemplar.value, exemplar.timestamp);
      this.sentExemplars[s * slots + b] = exemplar.timestamp;
    }
  }

  /** Forgets the exemplars sent for index `s` (its series expired; another may take the index). */
  protected forgetExemplars(s: number): void {
    const slots = this.family.kind === 'histogram' ? this.family.buckets : 1;
    if (this.sentExemplars.length >= (s + 1) * slots) this.sentExemplars.fill(0, s * slots, (s + 1) * slots);
  }

  /** Writes the changed series into `batch`, yielding each message as it fills. */
  abstract collect(batch: DeltaBatch): Generator<FamilyDelta[]>;

  /** A new session: the primary knows none of this worker's series. */
  forgetAnnouncements(): void {
    this.announced.fill(0);
  }

  /**
   * Whether index `s` holds a live series. An index whose series expired (`idleTimeout`) and was reused for
   * another tag set holds a new series: what was sent for the old one is forgotten (the store was zeroed
   * too), and the new one is announced, so its counts never land on the old series in the primary.
   */
  protected holdsSeries(s: number): boolean {
    const family = this.family;
    if (!family.holds(s)) return false;
    const incarnation = family.incarnation(s);
    const before = this.holders[s];
    if (before !== incarnation) {
      if (before !== undefined) {
        this.restart(s);
        this.forgetExemplars(s);
        if (s < this.announced.length) this.announced[s] = 0;
      }
      this.holders[s] = incarnation;
    }
    return true;
  }

  /** Forgets what was sent for index `s`. */
  protected abstract restart(s: number): void;

  /** Starts watching what the family cannot diff (summary observations). */
  resume(): void {}

  /** Stops watching; values recorded meanwhile still ship as sums and counts once resumed. */
  pause(): void {}

  /** The delta to write series `s` into, announcing its tag values on first mention in the session. */
  protected open(batch: DeltaBatch, s: number): FamilyDelta {
    const delta = batch.entry(this);
    if (this.announced.length <= s) {
      const grown = new Uint8Array(Math.max(this.family.seriesIdLimit, this.announced.length * 2));
      grown.set(this.announced);
      this.announced = grown;
    }
    if (this.announced[s] === 0) {
      delta.announce.push([s, this.family.labelValues(s)]);
      this.announced[s] = 1;
    }
    return delta;
  }
}

/**
 * A counter, sum or gauge: one float per series, and the value last sent for it. Subclasses decide what goes
 * on the wire for a changed series: the difference (counters and sums) or the value itself (gauges).
 */
abstract class ScalarTracker extends FamilyTracker {
  protected sent: Float64Array = new Float64Array(8);
  declare protected readonly family: ScalarFamily;

  protected restart(s: number): void {
    this.sent[s] = 0;
  }

  /** The number to ship for series `s`, or undefined when nothing needs sending. */
  protected abstract payload(s: number, value: number): number | undefined;

  *collect(batch: DeltaBatch): Generator<FamilyDelta[]> {
    const size = this.family.seriesIdLimit;
    this.sent = ensureCapacity(this.sent, size);
    for (let s = 0; s < size; s++) {
      if (!this.holdsSeries(s)) continue;
      const value = this.family.value(s);
      const payload = this.payload(s, value);
      if (payload !== undefined) {
        const delta = this.open(batch, s);
        delta.data.push(s, payload);
        this.shipExemplars(delta, s);
        this.sent[s] = value;
        if (batch.full) yield batch.take();
      }
    }
  }
}

class AddTracker extends ScalarTracker {
  protected payload(s: number, value: number): number | undefined {
    const delta = value - this.sent[s];
    // A non-finite total has no meaningful delta; skipping it also keeps NaN (JSON null) off the wire.
    return delta !== 0 && Number.isFinite(delta) ? delta : undefined;
  }
}

class SetTracker extends ScalarTracker {
  protected payload(s: number, value: number): number | undefined {
    // An unannounced series is new to the primary (or to a new session), so its value goes even if unchanged.
    const announced = this.announced;
    return value !== this.sent[s] || s >= announced.length || announced[s] === 0 ? value : undefined;
  }
}

class HistogramTracker extends FamilyTracker {
  private sentCounts: Float64Array = new Float64Array(8);
  private sentSums: Float64Array = new Float64Array(8);
  private sentTotals: Float64Array = new Float64Array(8);
  /** Native buckets only: each series' native histogram when last sent. */
  private readonly sentNative: (NativeHistogramData | undefined)[] = [];
  declare protected readonly family: HistogramFamily;

  protected restart(s: number): void {
    const slots = this.family.buckets;
    this.sentCounts.fill(0, s * slots, (s + 1) * slots);
    this.sentSums[s] = 0;
    this.sentTotals[s] = 0;
    this.sentNative[s] = undefined;
  }

  /**
   * What series `s`'s native histogram gained since it was last sent. Its resolution may have gone down since
   * (the bucket limit), and the difference is taken at the new one; what was sent at the old one stays exact in
   * the primary, which merges at the lower schema.
   */
  private nativeDelta(s: number): NativeHistogramData {
    const now = this.family.nativeHistogram(s) ?? NO_NATIVE;
    const before = this.sentNative[s];
    this.sentNative[s] = now;
    return before === undefined ? now : (nativeDifference(now, before) ?? now);
  }

  *collect(batch: DeltaBatch): Generator<FamilyDelta[]> {
    const family = this.family;
    const slots = family.buckets;
    const size = family.seriesIdLimit;
    this.sentCounts = ensureCapacity(this.sentCounts, size * slots);
    const sentCounts = this.sentCounts;
    this.sentSums = ensureCapacity(this.sentSums, size);
    const sentSums = this.sentSums;
    this.sentTotals = ensureCapacity(this.sentTotals, size);
    const sentTotals = this.sentTotals;
    for (let s = 0; s < size; s++) {
      if (!this.holdsSeries(s)) continue;
      // Every observation adds to the count, so an unchanged count means an unchanged series.
      const total = family.count(s);
      if (total === sentTotals[s]) continue;
      const sum = family.sum(s);
      const delta = this.open(batch, s);
      const data = delta.data;
      if (delta.natives !== undefined) {
        delta.natives.push(encodeNative(this.nativeDelta(s)));
      }
      data.push(s, total - sentTotals[s], sum - sentSums[s], 0);
      const pairsAt = data.length - 1;
      let pairs = 0;
      const base = s * slots;
      for (let b = 0; b < slots; b++) {
        const count = family.bucketCount(s, b);
        const delta = count - sentCounts[base + b];
        if (delta !== 0) {
          data.push(b, delta);
          pairs++;
          sentCounts[base + b] = count;
        }
      }
      data[pairsAt] = pairs;
      this.shipExemplars(delta, s);
      sentTotals[s] = total;
      sentSums[s] = sum;
      if (batch.full) yield batch.take();
    }
  }
}

class SummaryTracker extends FamilyTracker {
  private sentSums: Float64Array = new Float64Array(8);
  private sentTotals: Float64Array = new Float64Array(8);
  /** The observations not shipped yet: a summary's window cannot be diffed. */
  private readonly unsent: ObservationTap;
  declare protected readonly family: SummaryFamily;

  constructor(merge: SummaryMerge) {
    super(merge);
    this.unsent = merge.observations();
  }

  protected restart(s: number): void {
    this.sentSums[s] = 0;
    this.sentTotals[s] = 0;
  }

  *collect(batch: DeltaBatch): Generator<FamilyDelta[]> {
    const family = this.family;
    const size = family.seriesIdLimit;
    this.sentSums = ensureCapacity(this.sentSums, size);
    const sentSums = this.sentSums;
    this.sentTotals = ensureCapacity(this.sentTotals, size);
    const sentTotals = this.sentTotals;
    for (let s = 0; s < size; s++) {
      if (!this.holdsSeries(s)) continue;
      const total = family.count(s);
      const bins = this.unsent.take(s);
      if (total === sentTotals[s] && bins === undefined) continue;
      const sum = family.sum(s);
      const delta = this.open(batch, s);
      delta.data.push(s, total - sentTotals[s], sum - sentSums[s]);
      delta.sketches!.push(bins === undefined ? NO_OBSERVATIONS : encodeSketch(bins));
      sentTotals[s] = total;
      sentSums[s] = sum;
      if (batch.full) yield batch.take();
    }
  }

  override resume(): void {
    this.unsent.start();
  }

  override pause(): void {
    this.unsent.stop();
  }
}

/**
 * The worker half of delta shipping: keeps, per family, a copy of what it last sent, and turns the
 * difference into messages. Counters and sums ship value deltas, histograms per-bucket count deltas with
 * sum and count deltas, summaries sum and count deltas with a sketch of the new observations, last values
 * their current value. Only series that changed are sent.
 */
export class DeltaExporter {
  private readonly trackers: FamilyTracker[];

  /** Diffs against zero at first: everything recorded before the first flush ships with it. */
  constructor(telemeter: Telemeter) {
    this.trackers = familyMerges(telemeter)
      .filter((merge) => isShipped(merge.family))
      .map(trackerFor);
  }

  /**
   * The changes since the previous call, one message at a time, each of at most `maxEntries` series.
   * A series is marked as sent when its message is produced, so a consumer may pause between messages.
   */
  *messages(maxEntries = DEFAULT_ENTRIES_PER_MESSAGE): Generator<FamilyDelta[]> {
    // Gauges reported on read (requests in flight, pools) take their current value before they are diffed.
    runCollectors();
    const batch = new DeltaBatch(maxEntries);
    for (const tracker of this.trackers) yield* tracker.collect(batch);
    if (!batch.empty) yield batch.take();
  }

  /** All the changes since the previous call, as messages (none if nothing changed). */
  collect(maxEntries = DEFAULT_ENTRIES_PER_MESSAGE): FamilyDelta[][] {
    return [...this.messages(maxEntries)];
  }

  /** Called on a new session: the next messages announce every series they mention, and resend last values. */
  forgetAnnouncements(): void {
    for (const tracker of this.trackers) tracker.forgetAnnouncements();
  }

  /**
   * Starts watching summary observations (a tap on each summary store's `observeBin`). A Telemeter keeps one
   * exporter for its life, paused and resumed, so shipping again after a stop never re-sends what was sent.
   */
  resume(): void {
    for (const tracker of this.trackers) tracker.resume();
  }

  /** Removes the summary taps; quantiles miss what is observed while paused, sums and counts do not. */
  pause(): void {
    for (const tracker of this.trackers) tracker.pause();
  }
}

function trackerFor(merge: FamilyMerge): FamilyTracker {
  switch (merge.shape) {
    case 'histogram':
      return new HistogramTracker(merge);
    case 'summary':
      return new SummaryTracker(merge);
    case 'set':
      return new SetTracker(merge);
    default:
      return new AddTracker(merge);
  }
}

/** `array` with room for `length` entries, keeping its contents; grown by half again, as series come one by one. */
function ensureCapacity(array: Float64Array, length: number): Float64Array {
  if (length <= array.length) return array;
  let capacity = Math.max(8, array.length);
  while (capacity < length) capacity = Math.ceil(capacity * 1.5);
  const grown = new Float64Array(capacity);
  grown.set(array);
  return grown;
}
