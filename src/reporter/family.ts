import type { MetricDefinition } from '../metrics/definitions.js';
import { counterFamilyName, counterSeriesName } from '../metrics/names.js';
import type { HistogramStore } from './histogram-store.js';
import type { ScalarStore } from './scalar-store.js';
import type { SeriesTable } from './series-table.js';
import type { SummaryStore } from './summary-store.js';

/** Exposition type of a family. */
export type FamilyKind = 'counter' | 'gauge' | 'histogram' | 'summary';

/** Everything a scrape needs to render one metric family, stored once and read on every scrape. */
export type Family = ScalarFamily | HistogramFamily | SummaryFamily;

interface FamilyBase {
  /**
   * Exported name: the family and sample name in 0.0.4, the sample name in OpenMetrics. A counter's always ends in
   * `_total` (see `counterSeriesName`); OpenMetrics names its family without it.
   */
  readonly name: string;
  readonly help: string;
  /** OpenMetrics unit (`seconds`), set only when the name ends with it, as `# UNIT` requires. */
  readonly unit: string | undefined;
  readonly table: SeriesTable;
  /** The user's definition; undefined for telemeter's own metrics. */
  readonly definition: MetricDefinition | undefined;
}

export interface ScalarFamily extends FamilyBase {
  readonly kind: 'counter' | 'gauge';
  readonly store: ScalarStore;
}

export interface HistogramFamily extends FamilyBase {
  readonly kind: 'histogram';
  readonly store: HistogramStore;
}

export interface SummaryFamily extends FamilyBase {
  readonly kind: 'summary';
  readonly store: SummaryStore;
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
