/**
 * What a Telemeter really exports, as the judge of the generated queries: family names and kinds come from a
 * real Telemeter's `metricFamilies`, and series names are those Prometheus stores from either format (counter samples
 * `<family>_total`; `_bucket`/`_sum`/`_count`; summary quantiles under the family name).
 * The fixture test checks this derivation against real OpenMetrics and text scrapes.
 */
import { type MetricDefinition, Telemeter } from '../../src/index.js';

export interface ExportedFamily {
  readonly name: string;
  readonly kind: 'counter' | 'gauge' | 'histogram' | 'summary';
  /** The names its samples carry in a scrape, in either format. */
  readonly samples: readonly string[];
  /** Where the family came from: the definition's dotted name, or the self-metric's name. */
  readonly source: string;
}

export function exportedFamilies(
  definitions: readonly MetricDefinition[],
  selfMetrics = true,
): ExportedFamily[] {
  const telemeter = new Telemeter({ metrics: definitions, selfMetrics });
  try {
    return telemeter.metricFamilies.map((family) => {
      const base = family.kind === 'counter' ? family.name.replace(/_total$/, '') : family.name;
      const samples =
        family.kind === 'counter'
          ? [`${base}_total`]
          : family.kind === 'gauge'
            ? [base]
            : family.kind === 'histogram'
              ? [`${base}_bucket`, `${base}_sum`, `${base}_count`]
              : [base, `${base}_sum`, `${base}_count`];
      return {
        name: family.name,
        kind: family.kind,
        samples,
        source: family.definition?.name ?? family.name,
      };
    });
  } finally {
    telemeter.close();
  }
}

/** Sample names of an OpenMetrics or 0.0.4 body. */
export function sampleNamesOf(body: string): Set<string> {
  const names = new Set<string>();
  for (const line of body.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    names.add(/^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)![0]);
  }
  return names;
}
