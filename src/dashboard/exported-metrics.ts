import { invalidArgument, TelemeterTypeError } from '../errors.js';
import { formatCanonical } from '../exposition/number-format.js';
import type { MetricDefinition } from '../metrics/definitions.js';
import { counterFamilyName, counterSeriesName, isValidLabelName, prometheusName } from '../metrics/names.js';
import { type HistogramLayout, scrapeDefinitions } from '../reporter/index.js';
import { BULLMQ_ROW } from './rows-bullmq.js';

/** How Prometheus stores a metric, which decides the PromQL that fits it. */
export type ExportedKind = 'counter' | 'gauge' | 'histogram' | 'summary';

/** The rows a dashboard groups metrics into. */
export type MetricGroup =
  | { readonly kind: 'http' }
  | { readonly kind: 'runtime' }
  | { readonly kind: 'database' }
  | { readonly kind: 'telemeter' }
  | { readonly kind: 'app'; readonly segment: string };

/** One metric as Prometheus stores it after scraping a Telemeter. */
export interface ExportedMetric {
  /** The name as written in the definition (`http.request.stop.duration`), or the self-metric's name. */
  readonly sourceName: string;
  /** The family name as OpenMetrics writes it: a counter's without `_total`. */
  readonly family: string;
  /**
   * The series name PromQL selects: `<family>_total` for counters (in both exposition formats), the family for
   * gauges and summary quantiles, and the stem for `_bucket` / `_sum` / `_count` of histograms and summaries.
   */
  readonly series: string;
  readonly kind: ExportedKind;
  /**
   * Which buckets a histogram has (`reporterOptions.histogram`): `'classic'` (`_bucket` series by `le`, and `_sum`,
   * `_count`), `'native'` (one native series named `series`, which only a Prometheus with native histograms
   * stores), or `'both'`. `'classic'` for the other kinds.
   */
  readonly histogram: HistogramLayout;
  /** True for a `counter` definition, which counts events whatever its measurement and unit. */
  readonly countsEvents: boolean;
  readonly tags: readonly string[];
  /** Unit after conversion (`second`, `byte`, …) or `unit`. */
  readonly unit: string;
  readonly help: string;
  /** Summary quantiles as their `quantile` label values (`0.5`, `0.99`). Empty for other kinds. */
  readonly quantiles: readonly string[];
  readonly group: MetricGroup;
  /** Every series name this metric puts in Prometheus (for checks that a query names something real). */
  readonly seriesNames: readonly string[];
}

/** telemeter's own families that the reporter builds without a definition (see src/reporter/reporter.ts). */
const SELF_FAMILIES: ReadonlyArray<{
  name: string;
  kind: 'counter' | 'gauge';
  tags: string[];
  help: string;
}> = [
  {
    name: 'telemeter_dropped_events_total',
    kind: 'counter',
    tags: ['metric', 'reason'],
    help: 'Events that a metric skipped instead of recording, by metric and reason.',
  },
  {
    name: 'telemeter_series_overflow_total',
    kind: 'counter',
    tags: ['metric'],
    help: "Events recorded into a metric's overflow series because it had reached maxSeries.",
  },
  { name: 'telemeter_series', kind: 'gauge', tags: ['metric'], help: 'Series held in memory, by metric.' },
];

const DEFAULT_QUANTILES = [0.5, 0.9, 0.95, 0.99];

/**
 * The metrics Prometheus holds for a Telemeter built from `definitions`, in definition order, followed by
 * telemeter's own metrics unless `selfMetrics` is false (mirroring the Telemeter option of that name).
 *
 * @throws TelemeterTypeError `ERR_TELEMETER_INVALID_ARGUMENT` when an entry is not a metric definition,
 *   `ERR_TELEMETER_DUPLICATE_NAME` when two entries export the same name.
 */
export function exportedMetrics(
  definitions: readonly MetricDefinition[],
  selfMetrics = true,
  caller = 'telemeter',
): ExportedMetric[] {
  if (!Array.isArray(definitions)) {
    invalidArgument(`${caller}: definitions must be an array of metric definitions`);
  }
  const result: ExportedMetric[] = [];
  const owners = new Map<string, string>();
  const add = (metric: ExportedMetric) => {
    for (const name of metric.seriesNames) {
      const previous = owners.get(name);
      if (previous !== undefined) {
        throw new TelemeterTypeError(
          'ERR_TELEMETER_DUPLICATE_NAME',
          `${caller}: metric "${metric.sourceName}" exports "${name}", which "${previous}" also exports`,
        );
      }
      owners.set(name, metric.sourceName);
    }
    result.push(metric);
  };
  // One definition object listed twice is one metric, as a Telemeter records it (integrations share families).
  const seen = new Set<MetricDefinition>();
  definitions.forEach((definition, index) => {
    if (seen.has(definition)) return;
    seen.add(definition);
    if (typeof definition !== 'object' || definition === null || typeof definition.name !== 'string') {
      invalidArgument(
        `${caller}: definitions[${index}] is not a metric definition; build it with counter(), sum(), lastValue(), summary() or distribution()`,
      );
    }
    for (const tag of definition.tags ?? []) {
      if (!isValidLabelName(tag)) {
        invalidArgument(
          `${caller}: metric "${definition.name}": tag "${tag}" is not a valid Prometheus label name`,
        );
      }
    }
    add(fromDefinition(definition));
  });
  if (selfMetrics) {
    for (const definition of scrapeDefinitions()) add(fromDefinition(definition));
    for (const self of SELF_FAMILIES) {
      add(
        build(
          self.name,
          self.name,
          self.kind,
          self.kind === 'counter',
          self.tags,
          'unit',
          self.help,
          [],
          'classic',
        ),
      );
    }
  }
  return result;
}

function fromDefinition(definition: MetricDefinition): ExportedMetric {
  const name = prometheusName(definition.name);
  const options = definition.reporterOptions ?? {};
  let kind: ExportedKind;
  switch (definition.type) {
    case 'counter':
      kind = 'counter';
      break;
    case 'sum':
      kind = options.prometheusType === 'gauge' ? 'gauge' : 'counter';
      break;
    case 'last_value':
      kind = 'gauge';
      break;
    case 'distribution':
      kind = 'histogram';
      break;
    case 'summary':
      kind = 'summary';
      break;
    default:
      invalidArgument(
        `telemeter: metric "${definition.name}": type "${String(definition.type)}" is not a metric type`,
      );
  }
  const quantiles =
    kind === 'summary'
      ? [...(options.quantiles ?? DEFAULT_QUANTILES)].sort((a, b) => a - b).map(formatCanonical)
      : [];
  return build(
    definition.name,
    name,
    kind,
    definition.type === 'counter',
    definition.tags,
    definition.unit,
    definition.description ?? '',
    quantiles,
    kind === 'histogram' ? (options.histogram ?? 'classic') : 'classic',
  );
}

function build(
  sourceName: string,
  name: string,
  kind: ExportedKind,
  countsEvents: boolean,
  tags: readonly string[],
  unit: string,
  help: string,
  quantiles: readonly string[],
  histogram: HistogramLayout,
): ExportedMetric {
  const family = kind === 'counter' ? counterFamilyName(name) : name;
  const series = kind === 'counter' ? counterSeriesName(name) : family;
  const seriesNames =
    kind === 'counter'
      ? [series]
      : kind === 'gauge'
        ? [family]
        : kind === 'histogram'
          ? histogram === 'native'
            ? [family]
            : histogram === 'both'
              ? [family, `${family}_bucket`, `${family}_sum`, `${family}_count`]
              : [`${family}_bucket`, `${family}_sum`, `${family}_count`]
          : [family, `${family}_sum`, `${family}_count`];
  return Object.freeze({
    sourceName,
    family,
    series,
    kind,
    histogram,
    countsEvents,
    tags: Object.freeze([...tags]),
    unit,
    help,
    quantiles: Object.freeze([...quantiles]),
    group: groupOf(sourceName, family),
    seriesNames: Object.freeze(seriesNames),
  });
}

/**
 * The row a metric belongs in: HTTP (`http.*`, `http_*`), databases (`db_client_*`), the Node.js runtime (`vm.*`, `process_*`,
 * `nodejs_*`), telemeter's own (`telemeter_*`), BullMQ (`bullmq_*`, `messaging_*`), or the application's, by
 * the first segment of its name.
 */
export function groupOf(sourceName: string, family: string): MetricGroup {
  if (/^http[._]/.test(sourceName)) return { kind: 'http' };
  if (/^db_client_/.test(family)) return { kind: 'database' };
  if (/^vm\./.test(sourceName) || /^(vm|process|nodejs)_/.test(family)) return { kind: 'runtime' };
  if (/^telemeter[._]/.test(sourceName)) return { kind: 'telemeter' };
  // bullmqMetrics() names some metrics after OpenTelemetry's messaging conventions: one row with bullmq_*.
  if (/^(bullmq|messaging)_/.test(family)) return { kind: 'app', segment: BULLMQ_ROW };
  const segment = sourceName.includes('.') ? sourceName.split('.')[0] : family.split('_')[0] || family;
  return { kind: 'app', segment };
}

/** A metric found by its exported family name, allowing a prefix (`runtimeMetrics({ prefix })`). */
export function findMetric(
  metrics: readonly ExportedMetric[],
  family: string,
  kind: ExportedKind,
): ExportedMetric | undefined {
  return (
    metrics.find((m) => m.kind === kind && m.family === family) ??
    metrics.find((m) => m.kind === kind && m.family.endsWith(`_${family}`))
  );
}
