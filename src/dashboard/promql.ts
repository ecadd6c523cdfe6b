/** The Grafana variable filters every dashboard query carries, so one dashboard shows one target or the fleet. */
export const TARGET_MATCHERS: readonly string[] = ['job=~"$job"', 'instance=~"$instance"'];

/** `name{m1,m2}`, or the bare name when there are no matchers. */
export function selector(name: string, matchers: readonly string[]): string {
  return matchers.length === 0 ? name : `${name}{${matchers.join(',')}}`;
}

/** `sum by (a, b) (inner)`, or `sum(inner)` when nothing is kept. */
export function sumBy(labels: readonly string[], inner: string): string {
  return labels.length === 0 ? `sum(${inner})` : `sum by (${labels.join(', ')}) (${inner})`;
}

/** A quoted PromQL string literal. PromQL accepts Go's escapes, which JSON's are a subset of. */
export function promString(value: string): string {
  return JSON.stringify(value);
}

/** The Grafana legend for a set of labels: `{{route}} {{status}}`, or `fallback` for none. */
export function legendOf(labels: readonly string[], fallback: string): string {
  return labels.length === 0 ? fallback : labels.map((l) => `{{${l}}}`).join(' ');
}
