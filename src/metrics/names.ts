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

export function isValidMetricName(name: string): boolean {
  return METRIC_NAME.test(name);
}

/** A label name Prometheus accepts and does not reserve (`__` prefix). */
export function isValidLabelName(name: string): boolean {
  return LABEL_NAME.test(name) && !name.startsWith('__');
}
