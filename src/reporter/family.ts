import type { MetricDefinition } from '../metrics/definitions.js';
import { counterFamilyName, counterSeriesName } from '../metrics/names.js';
import type { HistogramStore } from './histogram-store.js';
import { forEachLabel } from './label-block.js';
import type { NativeHistogramData } from './native-histogram.js';
import type {
  FamilyKind,
  HistogramFamily,
  HistogramLayout,
  ScalarFamily,
  SummaryFamily,
  SummaryWindow,
} from './read-model.js';
import type { ScalarStore } from './scalar-store.js';
import type { SeriesTable } from './series-table.js';
import type { SummaryStore } from './summary-store.js';

/**
 * A family as the reporter stores it: the read model's {@link MetricFamily} over its series table and store. Only
 * `reporter/` sees the table and the store; everything else reads the family through the read model's methods.
 */
export type StoredFamily = StoredScalarFamily | StoredHistogramFamily | StoredSummaryFamily;

/** What every stored family has: its name, its help and unit, and the table of its series. */
abstract class StoredFamilyBase {
  readonly labelNames: readonly string[];
  /** The table's label blocks, one array for the table's life: a render reads one per series. */
  private readonly blocks: readonly string[];

  constructor(
    readonly name: string,
    readonly help: string,
    /** The OpenMetrics unit (`seconds`), set only when the name ends with it, as `# UNIT` requires. */
    readonly unit: string | undefined,
    readonly table: SeriesTable,
    /** The user's definition; undefined for telemeter's own metrics. */
    readonly definition: MetricDefinition | undefined,
  ) {
    this.labelNames = table.tagNames;
    this.blocks = table.labelBlocks;
  }

  get seriesCount(): number {
    return this.table.live;
  }

  get seriesIdLimit(): number {
    return this.table.size;
  }

  holds(series: number): boolean {
    return this.table.holds(series);
  }

  incarnation(series: number): number {
    return this.table.incarnation(series);
  }

  seriesOrder(): Generator<void, Uint32Array> {
    return this.table.orderSteps();
  }

  created(series: number): number {
    return this.table.created[series];
  }

  labelBlock(series: number): string {
    return this.blocks[series];
  }

  forEachLabel(series: number, visit: (name: string, value: string) => void): void {
    forEachLabel(this.blocks[series], visit);
  }

  labelValues(series: number): string[] {
    return this.table.tagValuesOf(series);
  }
}

/** Counters, sums and last values: one float per series. */
export class StoredScalarFamily extends StoredFamilyBase implements ScalarFamily {
  constructor(
    name: string,
    help: string,
    unit: string | undefined,
    table: SeriesTable,
    definition: MetricDefinition | undefined,
    readonly kind: 'counter' | 'gauge',
    readonly store: ScalarStore,
  ) {
    super(name, help, unit, table, definition);
  }

  get cumulative(): boolean {
    return this.store.mode === 'add';
  }

  value(series: number): number {
    return this.store.values[series];
  }
}

export class StoredHistogramFamily extends StoredFamilyBase implements HistogramFamily {
  readonly kind = 'histogram';
  readonly layout: HistogramLayout;
  readonly bounds: readonly number[];
  readonly buckets: number;

  constructor(
    name: string,
    help: string,
    unit: string | undefined,
    table: SeriesTable,
    definition: MetricDefinition | undefined,
    readonly store: HistogramStore,
  ) {
    super(name, help, unit, table, definition);
    this.bounds = Object.freeze(Array.from(store.bounds));
    this.buckets = store.slots;
    this.layout = store.native === undefined ? 'classic' : store.bounds.length === 0 ? 'native' : 'both';
  }

  nativeHistogram(series: number): NativeHistogramData | undefined {
    return this.store.native?.read(series);
  }

  bucketCount(series: number, bucket: number): number {
    const store = this.store;
    return store.counts[series * store.slots + bucket];
  }

  sum(series: number): number {
    return this.store.sums[series];
  }

  count(series: number): number {
    return this.store.count(series);
  }
}

export class StoredSummaryFamily extends StoredFamilyBase implements SummaryFamily {
  readonly kind = 'summary';
  readonly quantiles: readonly number[];
  readonly relativeAccuracy: number;

  constructor(
    name: string,
    help: string,
    unit: string | undefined,
    table: SeriesTable,
    definition: MetricDefinition | undefined,
    readonly store: SummaryStore,
  ) {
    super(name, help, unit, table, definition);
    this.quantiles = Object.freeze([...store.quantiles]);
    this.relativeAccuracy = store.relativeAccuracy;
  }

  window(series: number): SummaryWindow {
    return this.store.window(series);
  }

  sum(series: number): number {
    return this.store.sums[series];
  }

  count(series: number): number {
    return this.store.totals[series];
  }
}

/**
 * Every name a family's lines use in either format (family names and sample names), for the duplicate-name check:
 * a counter claims its OpenMetrics family name too, so a gauge `x` and a counter `x` (exported `x_total`) collide.
 */
export function sampleNames(name: string, kind: FamilyKind): string[] {
  switch (kind) {
    case 'counter': {
      const family = counterFamilyName(name);
      return [family, counterSeriesName(name), `${family}_created`];
    }
    case 'histogram':
      return [name, `${name}_bucket`, `${name}_sum`, `${name}_count`, `${name}_created`];
    case 'summary':
      return [name, `${name}_sum`, `${name}_count`, `${name}_created`];
    default:
      return [name];
  }
}
