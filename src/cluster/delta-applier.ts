import type { LogSink } from '../logger.js';
import type { Family, ScalarFamily } from '../reporter/family.js';
import type { Telemeter } from '../telemeter.js';
import { isShipped, layoutOf, shapeOf } from './family-shape.js';
import { type GaugeAggregation, type GaugeContributions, GaugeMerger } from './gauge-merge.js';
import type { EncodedSketch, FamilyDelta } from './protocol.js';
import { mergeEncodedSketch } from './sketch-codec.js';

/** New series resolved between two pauses of {@link DeltaApplier.applySteps}. */
export const ANNOUNCE_STEP = 64;

/** Bounds the id map a worker's series indices can make the primary allocate (64 MiB at most). */
const MAX_SERIES_ID = 1 << 24;

/** One worker's view of one of the primary's families, for one session. */
export interface FamilyLink {
  readonly family: Family;
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

/** What the primary merges into: its families by name and the gauge rule. */
export interface MergeTarget {
  readonly families: ReadonlyMap<string, Family>;
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
  contributions: (family: ScalarFamily) => Iterable<GaugeContributions>,
): MergeTarget {
  return {
    families: new Map(telemeter.families.map((family) => [family.name, family])),
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
 * type, buckets or accuracy), is skipped with one warning; malformed entries are skipped.
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

  /** This worker's last values of `family`, if it sent any. */
  contributions(family: ScalarFamily): GaugeContributions | undefined {
    return this.links.get(family.name)?.gauges;
  }

  /** Every series index of the primary this worker has a gauge value in, per family. */
  *gaugeSeries(): Generator<[ScalarFamily, number]> {
    for (const link of this.links.values()) {
      if (link?.gauges === undefined) continue;
      for (const s of link.gauges.keys()) yield [link.family as ScalarFamily, s];
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
      switch (link.family.kind) {
        case 'histogram':
          applyHistogram(link, data);
          break;
        case 'summary':
          applySummary(link, data, Array.isArray(delta.sketches) ? delta.sketches : []);
          break;
        default:
          if (link.family.store.mode === 'add') applyAdd(link, data);
          else this.applySet(link, data);
      }
    }
  }

  private linkFor(delta: FamilyDelta): FamilyLink | null {
    const name = typeof delta?.name === 'string' ? delta.name : '';
    const known = this.links.get(name);
    if (known !== undefined) return known;
    const family = this.target.families.get(name);
    let link: FamilyLink | null = null;
    if (family === undefined || !isShipped(family)) {
      this.target.logger.warnOnce(
        `cluster:unknown:${name}`,
        {},
        `telemeter/cluster: a worker sent metric family "${name}", which the primary's Telemeter does not define; give the primary the same metric definitions as the workers`,
      );
    } else if (shapeOf(family) !== delta.shape || layoutOf(family) !== delta.layout) {
      this.target.logger.warnOnce(
        `cluster:mismatch:${name}`,
        {},
        `telemeter/cluster: metric family "${name}" is defined differently in a worker and in the primary (type, buckets or relativeAccuracy); its worker data is skipped`,
      );
    } else {
      const keepsPerWorker = family.kind === 'gauge' && family.store.mode === 'set';
      link = {
        family,
        ids: new Int32Array(16).fill(-1),
        tags: [],
        incarnations: [],
        gauges: keepsPerWorker && this.target.merger !== undefined ? new Map() : undefined,
      };
    }
    this.links.set(name, link);
    return link;
  }

  private *announce(link: FamilyLink, announce: unknown): Generator<void> {
    if (!Array.isArray(announce)) return;
    let step = 0;
    const { table } = link.family;
    const withWorker =
      link.family.kind === 'gauge' &&
      link.family.store.mode === 'set' &&
      this.target.gaugeAggregation === 'worker';
    const arity = table.tagNames.length - (withWorker ? 1 : 0);
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
          `cluster:tags:${link.family.name}`,
          {},
          `telemeter/cluster: a worker sent series of "${link.family.name}" whose tags do not match the primary's definition; they are skipped`,
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
      const series = table.resolveValues(tags);
      link.ids[local] = series;
      link.tags[local] = tags;
      link.incarnations[local] = table.incarnation(series);
      if (++step % ANNOUNCE_STEP === 0) yield;
    }
  }

  private applySet(link: FamilyLink, data: readonly number[]): void {
    const family = link.family as ScalarFamily;
    const { merger } = this.target;
    const live = this.isLive();
    for (let i = 0; i + 1 < data.length; i += 2) {
      const s = seriesOf(link, data[i]);
      const value = data[i + 1];
      if (s < 0 || typeof value !== 'number') continue;
      if (link.gauges === undefined || merger === undefined) {
        family.store.values[s] = value;
      } else if (live) {
        merger.claim(family, s);
        link.gauges.set(s, value);
        merger.update(family, s);
      }
    }
  }
}

function applyAdd(link: FamilyLink, data: readonly number[]): void {
  const values = (link.family as ScalarFamily).store.values;
  for (let i = 0; i + 1 < data.length; i += 2) {
    const s = seriesOf(link, data[i]);
    const delta = data[i + 1];
    if (s >= 0 && isFiniteNumber(delta)) values[s] += delta;
  }
}

function applyHistogram(link: FamilyLink, data: readonly number[]): void {
  if (link.family.kind !== 'histogram') return;
  const store = link.family.store;
  const slots = store.slots;
  let i = 0;
  while (i + 3 < data.length) {
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
          store.addToBucket(s, slot, delta);
        }
      }
      store.sums[s] += sum;
    }
    i = end;
  }
}

function applySummary(link: FamilyLink, data: readonly number[], sketches: readonly EncodedSketch[]): void {
  if (link.family.kind !== 'summary') return;
  const store = link.family.store;
  for (let i = 0, entry = 0; i + 2 < data.length; i += 3, entry++) {
    const s = seriesOf(link, data[i]);
    const count = data[i + 1];
    const sum = data[i + 2];
    if (s < 0 || !isFiniteNumber(count) || !isFiniteNumber(sum)) continue;
    store.sums[s] += sum;
    store.totals[s] += count;
    const sketch = sketches[entry];
    if (typeof sketch === 'object' && sketch !== null) {
      mergeEncodedSketch(store.currentSketch(s), sketch);
    }
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
  const table = link.family.table;
  const tags = link.tags[local as number];
  if (tags !== undefined && table.incarnation(s) !== link.incarnations[local as number]) {
    s = table.resolveValues(tags);
    link.ids[local as number] = s;
    link.incarnations[local as number] = table.incarnation(s);
  }
  table.touched[s] = table.generation;
  return s;
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function isTagValues(values: unknown, arity: number): values is string[] {
  return Array.isArray(values) && values.length === arity && values.every((v) => typeof v === 'string');
}
