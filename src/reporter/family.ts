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

/** Escapes a label value for both text formats: backslash, double quote and line feed. */
export function escapeLabelValue(value: string): string {
  return /[\\"\n]/.test(value) ? value.replace(/[\\"\n]/g, escapeChar) : value;
}

function escapeChar(c: string): string {
  return c === '\n' ? '\\n' : `\\${c}`;
}

/**
 * Calls `visit` with each name and value of a rendered label block (`route="/cart",status="200"`, as a series
 * stores it, global tags included), undoing the escapes of {@link escapeLabelValue}.
 */
export function forEachLabel(block: string, visit: (name: string, value: string) => void): void {
  let i = 0;
  while (i < block.length) {
    const eq = block.indexOf('="', i);
    if (eq < 0) break;
    const name = block.slice(i, eq);
    let value = '';
    let from = eq + 2;
    let j = from;
    while (j < block.length && block.charCodeAt(j) !== QUOTE) {
      if (block.charCodeAt(j) === BACKSLASH && j + 1 < block.length) {
        const next = block[j + 1];
        value += block.slice(from, j) + (next === 'n' ? '\n' : next);
        j += 2;
        from = j;
      } else j++;
    }
    visit(name, value + block.slice(from, j));
    i = j + 2; // past the closing quote and the comma
  }
}

/** The name/value pairs of a rendered label block (see {@link forEachLabel}). */
export function parseLabelBlock(block: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  forEachLabel(block, (name, value) => {
    pairs.push([name, value]);
  });
  return pairs;
}

const QUOTE = 34;
const BACKSLASH = 92;

/**
 * Builds the function that renders a series' label block. Labels are sorted by name; global tags are
 * escaped once, here, and a metric's own tag of the same name wins over a global one.
 */
export function labelRenderer(
  tagNames: readonly string[],
  globalTags: Readonly<Record<string, string>>,
): (values: readonly string[]) => string {
  const parts: Array<{ name: string; tagIndex: number; fixed: string }> = [];
  tagNames.forEach((name, tagIndex) => {
    parts.push({ name, tagIndex, fixed: '' });
  });
  for (const [name, value] of Object.entries(globalTags)) {
    if (tagNames.includes(name)) continue;
    parts.push({ name, tagIndex: -1, fixed: `${name}="${escapeLabelValue(value)}"` });
  }
  parts.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  // Built with join, which makes one flat string: `+=` would leave a tree of pieces that every series keeps
  // until something reads it.
  return (values) =>
    parts
      .map((part) =>
        part.tagIndex < 0 ? part.fixed : `${part.name}="${escapeLabelValue(values[part.tagIndex])}"`,
      )
      .join(',');
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
