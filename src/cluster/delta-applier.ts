import type { LogSink } from '../logger.js';
import {
  type FamilyMerge,
  familyMerges,
  type HistogramMerge,
  type ScalarMerge,
  type SummaryMerge,
} from '../reporter/index.js';
import type { Telemeter } from '../telemeter.js';
import { isShipped } from './family-shape.js';
import { type GaugeAggregation, type GaugeContributions, GaugeMerger } from './gauge-merge.js';
import { decodeNative } from './native-codec.js';
import type { EncodedSketch, FamilyDelta } from './protocol.js';
import { mergeEncodedSketch } from './sketch-codec.js';

/** New series resolved between two pauses of {@link DeltaApplier.applySteps}. */
export const ANNOUNCE_STEP = 64;

/** Bounds the id map a worker's series indices can make the primary allocate (64 MiB at most). */
const MAX_SERIES_ID = 1 << 24;

/** One worker's view of one of the primary's families, for one session. */
export interface FamilyLink {
  /** Where the family's deltas go: the primary's merge interface of it. */
  readonly target: FamilyMerge;
  /** The worker's series index → the primary's series index, -1 when not announced. */
  ids: Int32Array;
  /** The worker's series index → the tag values of the primary's series it maps to. */
  readonly tags: (readonly string[] | undefined)[];
  /**
   * The worker's series index → the table's incarnation of the primary's index it maps to. When the primary's
   * series has expired (`idleTimeout`), the incarnation differs, and the series is resolved again from its tags.
   */
  readonly incarnations: number[];
  /** This worker's last values, for the sum/max/min gauge aggregations. */
  readonly gauges: GaugeContributions | undefined;
}

/** What the primary merges into: its families' merge interfaces by name, and the gauge rule. */
export interface MergeTarget {
  readonly families: ReadonlyMap<string, FamilyMerge>;
  readonly gaugeAggregation: GaugeAggregation;
  /** Present for the sum/max/min aggregations. */
  readonly merger: GaugeMerger | undefined;
  /** The primary Telemeter's logger, for what a worker sends that cannot be merged. */
  readonly logger: LogSink;
}

/**
 * The merge target of a primary Telemeter. `contributions` lists the live workers' last values of a gauge
 * family, for the sum/max/min aggregations.
 */
export function mergeTargetFor(
  telemeter: Telemeter,
  gaugeAggregation: GaugeAggregation,
  contributions: (gauge: ScalarMerge) => Iterable<GaugeContributions>,
): MergeTarget {
  return {
    families: new Map(familyMerges(telemeter).map((merge) => [merge.family.name, merge])),
    gaugeAggregation,
    merger:
      gaugeAggregation === 'sum' || gaugeAggregation === 'max' || gaugeAggregation === 'min'
        ? new GaugeMerger(gaugeAggregation, contributions)
        : undefined,
    logger: telemeter.logger,
  };
}

/**
 * Applies one worker's deltas into the primary's own storage, so totals live in the primary: they survive
 * the worker, and never go down while the primary lives.
 *
 * Nothing a message carries can throw: a family the primary does not define, or defines differently (other
 * type, buckets or summary schema), is skipped with one warning; malformed entries are skipped.
 */
export class DeltaApplier {
  private readonly links = new Map<string, FamilyLink | null>();

  constructor(
    private readonly target: MergeTarget,
    /** Value of the worker label on this worker's last values (`'worker'` aggregation). */
    private readonly workerLabel: string,
    /** False once the worker is gone: its late last values no longer count in sum/max/min. */
    private readonly isLive: () => boolean,
  ) {}

  /** This worker's last values of `gauge`, if it sent any. */
  contributions(gauge: ScalarMerge): GaugeContributions | undefined {
    return this.links.get(gauge.family.name)?.gauges;
  }

  /** Every series index of the primary this worker has a gauge value in, per family. */
  *gaugeSeries(): Generator<[ScalarMerge, number]> {
    for (const link of this.links.values()) {
      if (link?.gauges === undefined) continue;
      for (const s of link.gauges.keys()) yield [link.target as ScalarMerge, s];
    }
  }

  /** Applies one message at once. */
  apply(families: readonly FamilyDelta[]): void {
    for (const _ of this.applySteps(families));
  }

  /**
   * Applies one message in steps: it pauses (yields) every {@link ANNOUNCE_STEP} new series, since
   * creating a series (trie nodes, label block, store growth) costs microseconds where adding a delta costs
   * nanoseconds, so a caller can hand the event loop a turn between steps.
   */
  *applySteps(families: readonly FamilyDelta[]): Generator<void> {
    if (!Array.isArray(families)) return;
    for (const delta of families) {
      const link = this.linkFor(delta);
      if (link === null) continue;
      yield* this.announce(link, delta.announce);
      const data = Array.isArray(delta.data) ? delta.data : [];
      const { target } = link;
      switch (target.shape) {
        case 'histogram':
          applyHistogram(link, target, data, Array.isArray(delta.natives) ? delta.natives : []);
          applyExemplars(link, delta.exemplars, (s, bucket, block, value, time) => {
            if (bucket < target.family.buckets) target.putExemplar(s, bucket, block, value, time);
          });
          break;
        case 'summary':
          applySummary(link, target, data, Array.isArray(delta.sketches) ? delta.sketches : []);
          break;
        case 'add':
          applyAdd(link, target, data);
          applyExemplars(link, delta.exemplars, (s, bucket, block, value, time) => {
            if (bucket === 0) target.putExemplar(s, block, value, time);
          });
          break;
        default:
          this.applySet(link, target, data);
      }
    }
  }

  private linkFor(delta: FamilyDelta): FamilyLink | null {
    const name = typeof delta?.name === 'string' ? delta.name : '';
    const known = this.links.get(name);
    if (known !== undefined) return known;
    const target = this.target.families.get(name);
    let link: FamilyLink | null = null;
    if (target === undefined || !isShipped(target.family)) {
      this.target.logger.warnOnce(
        `cluster:unknown:${name}`,
        {},
        `telemeter/cluster: a worker sent metric family "${name}", which the primary's Telemeter does not define; give the primary the same metric definitions as the workers`,
      );
    } else if (
      target.shape !== delta.shape ||
      target.layout !== delta.layout ||
      (target.shape === 'histogram' && target.family.layout !== (delta.histogram ?? 'classic'))
    ) {
      this.target.logger.warnOnce(
        `cluster:mismatch:${name}`,
        {},
        `telemeter/cluster: metric family "${name}" is defined differently in a worker and in the primary (type, buckets, histogram layout or relativeAccuracy); its worker data is skipped`,
      );
    } else {
      link = {
        target,
        ids: new Int32Array(16).fill(-1),
        tags: [],
        incarnations: [],
        gauges: target.shape === 'set' && this.target.merger !== undefined ? new Map() : undefined,
      };
    }
    this.links.set(name, link);
    return link;
  }

  private *announce(link: FamilyLink, announce: unknown): Generator<void> {
    if (!Array.isArray(announce)) return;
    let step = 0;
    const { target } = link;
    const withWorker = target.shape === 'set' && this.target.gaugeAggregation === 'worker';
    const arity = target.family.labelNames.length - (withWorker ? 1 : 0);
    for (const entry of announce) {
      if (!Array.isArray(entry)) continue;
      const [id, values] = entry as [unknown, unknown];
      if (
        !(
          Number.isInteger(id) &&
          (id as number) >= 0 &&
          (id as number) < MAX_SERIES_ID &&
          isTagValues(values, arity)
        )
      ) {
        this.target.logger.warnOnce(
          `cluster:tags:${target.family.name}`,
          {},
          `telemeter/cluster: a worker sent series of "${target.family.name}" whose tags do not match the primary's definition; they are skipped`,
        );
        continue;
      }
      const local = id as number;
      if (local >= link.ids.length) {
        let length = link.ids.length;
        while (length <= local) length *= 2;
        const grown = new Int32Array(length).fill(-1);
        grown.set(link.ids);
        link.ids = grown;
      }
      const tags = withWorker ? [...values, this.workerLabel] : values;
      const series = target.resolve(tags);
      link.ids[local] = series;
      link.tags[local] = tags;
      link.incarnations[local] = target.family.incarnation(series);
      if (++step % ANNOUNCE_STEP === 0) yield;
    }
  }

  private applySet(link: FamilyLink, target: ScalarMerge, data: readonly number[]): void {
    const { merger } = this.target;
    const live = this.isLive();
    for (let i = 0; i + 1 < data.length; i += 2) {
      const s = seriesOf(link, data[i]);
      const value = data[i + 1];
      if (s < 0 || typeof value !== 'number') continue;
      if (link.gauges === undefined || merger === undefined) {
        target.set(s, value);
      } else if (live) {
        merger.claim(target, s);
        link.gauges.set(s, value);
        merger.update(target, s);
      }
    }
  }
}

/** The longest label block an exemplar within the 128 code point limit renders to (every character escaped). */
const MAX_EXEMPLAR_BLOCK = 4 * 128 + 4 * 64;
/**
 * A label block as the read model renders one (`name="value",…`, values escaped): what the primary writes into its
 * exposition as it is, so a malformed one (a raw line feed, a stray quote) must not get through.
 */
const LABEL_BLOCK = /^(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"(?:,(?!$)|$))*$/;

/** Hands each well-formed exemplar entry of a delta (`id, bucket, labelBlock, value, timestamp`) to `put`. */
function applyExemplars(
  link: FamilyLink,
  exemplars: unknown,
  put: (series: number, bucket: number, labelBlock: string, value: number, timestamp: number) => void,
): void {
  if (!Array.isArray(exemplars)) return;
  for (let i = 0; i + 4 < exemplars.length; i += 5) {
    const s = seriesOf(link, exemplars[i]);
    const [bucket, block, value, timestamp] = [
      exemplars[i + 1],
      exemplars[i + 2],
      exemplars[i + 3],
      exemplars[i + 4],
    ];
    if (
      s >= 0 &&
      Number.isInteger(bucket) &&
      bucket >= 0 &&
      typeof block === 'string' &&
      block.length <= MAX_EXEMPLAR_BLOCK &&
      LABEL_BLOCK.test(block) &&
      isFiniteNumber(value) &&
      isFiniteNumber(timestamp) &&
      timestamp > 0
    ) {
      put(s, bucket, block, value, timestamp);
    }
  }
}

function applyAdd(link: FamilyLink, target: ScalarMerge, data: readonly number[]): void {
  for (let i = 0; i + 1 < data.length; i += 2) {
    const s = seriesOf(link, data[i]);
    const delta = data[i + 1];
    if (s >= 0 && isFiniteNumber(delta)) target.add(s, delta);
  }
}

function applyHistogram(
  link: FamilyLink,
  target: HistogramMerge,
  data: readonly number[],
  natives: readonly unknown[],
): void {
  const slots = target.family.buckets;
  const native = target.family.layout !== 'classic';
  let i = 0;
  for (let entry = 0; i + 3 < data.length; entry++) {
    const s = seriesOf(link, data[i]);
    const count = data[i + 1];
    const sum = data[i + 2];
    const pairs = data[i + 3];
    if (!(Number.isInteger(pairs) && pairs >= 0)) return;
    const end = i + 4 + 2 * pairs;
    if (end > data.length) return;
    if (s >= 0 && isFiniteNumber(count) && isFiniteNumber(sum)) {
      // A series' count is the sum of its buckets: the count sent is checked, not stored.
      for (let p = i + 4; p < end; p += 2) {
        const slot = data[p];
        const delta = data[p + 1];
        if (Number.isInteger(slot) && slot >= 0 && slot < slots && isFiniteNumber(delta)) {
          target.addToBucket(s, slot, delta);
        }
      }
      target.addToSum(s, sum);
      if (native) {
        const delta = decodeNative(natives[entry]);
        // Malformed native data is skipped, as a malformed bucket pair is.
        if (delta !== undefined) target.addNative(s, delta);
      }
    }
    i = end;
  }
}

function applySummary(
  link: FamilyLink,
  target: SummaryMerge,
  data: readonly number[],
  sketches: readonly EncodedSketch[],
): void {
  for (let i = 0, entry = 0; i + 2 < data.length; i += 3, entry++) {
    const s = seriesOf(link, data[i]);
    const count = data[i + 1];
    const sum = data[i + 2];
    if (s < 0 || !isFiniteNumber(count) || !isFiniteNumber(sum)) continue;
    target.addToTotals(s, count, sum);
    const sketch = sketches[entry];
    if (typeof sketch === 'object' && sketch !== null) mergeEncodedSketch(target, s, sketch);
  }
}

/**
 * The primary's series for a worker's series index, or -1. Marks it recorded to, so a merged series
 * expires under `idleTimeout` only when no worker sends for it, as a local one would.
 */
function seriesOf(link: FamilyLink, local: unknown): number {
  if (!(Number.isInteger(local) && (local as number) >= 0 && (local as number) < link.ids.length)) return -1;
  let s = link.ids[local as number];
  if (s < 0) return -1;
  const { target } = link;
  const tags = link.tags[local as number];
  if (tags !== undefined && target.family.incarnation(s) !== link.incarnations[local as number]) {
    s = target.resolve(tags);
    link.ids[local as number] = s;
    link.incarnations[local as number] = target.family.incarnation(s);
  }
  target.touch(s);
  return s;
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function isTagValues(values: unknown, arity: number): values is string[] {
  return Array.isArray(values) && values.length === arity && values.every((v) => typeof v === 'string');
}
