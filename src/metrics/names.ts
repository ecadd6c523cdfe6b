const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/**
 * The Prometheus name of a dotted metric name, as Peep spells it: segments joined with `_`,
 * no unit or type suffix added. Characters outside `[a-zA-Z0-9_]` become `_`, and a leading digit gets a `_`.
 */
export function prometheusName(dottedName: string): string {
  const joined = dottedName
    .split('.')
    .join('_')
    .replace(/[^a-zA-Z0-9_]/g, '_');
  return /^[0-9]/.test(joined) ? `_${joined}` : joined;
}

/**
 * The name a counter (or a `sum` exported as one) is exported under, in every format: `<name>_total`, or the name
 * itself when it already ends in `_total`. Text 0.0.4 uses it as family and sample name, OpenMetrics as the sample
 * name (with {@link counterFamilyName} as the family), so every scraper stores the same series, as OpenTelemetry's
 * Prometheus exporter does.
 */
export function counterSeriesName(name: string): string {
  return name.endsWith(TOTAL) ? name : `${name}${TOTAL}`;
}

/** The OpenMetrics family name of a counter: its name without a trailing `_total`. */
export function counterFamilyName(name: string): string {
  return name.endsWith(TOTAL) ? name.slice(0, -TOTAL.length) : name;
}

const TOTAL = '_total';

export function isValidMetricName(name: string): boolean {
  return METRIC_NAME.test(name);
}

/** A label name Prometheus accepts and does not reserve (`__` prefix). */
export function isValidLabelName(name: string): boolean {
  return LABEL_NAME.test(name) && !name.startsWith('__');
}
