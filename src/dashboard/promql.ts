import type { HistogramLayout } from '../reporter/index.js';

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

/** What the histogram queries need to know of a metric: its series stem and which buckets Prometheus holds. */
export interface HistogramSeries {
  readonly series: string;
  readonly histogram: HistogramLayout;
}

/**
 * The input of `histogram_quantile`: `sum by (labels) (fn(buckets[window]))`, where `labels` names `le` where the
 * classic buckets are kept by it. Classic: the `_bucket` series by `le`. Native: the native series, without `le`
 * (a native sample is the whole histogram). Both: whichever of the two Prometheus stored, which depends on the
 * scraper (Prometheus with native histograms enabled stores only the native series of such a histogram; a text
 * scraper only the classic ones), so one query serves every scraper; `or on (labels)` keeps the classic result
 * where a Prometheus keeps both, and never gives `histogram_quantile` two histograms of one label set.
 */
export function bucketRates(
  metric: HistogramSeries,
  labels: readonly string[],
  matchers: readonly string[],
  window: string,
  fn = 'rate',
): string {
  const classic = sumBy(labels, `${fn}(${selector(`${metric.series}_bucket`, matchers)}${window})`);
  const withoutLe = labels.filter((label) => label !== 'le');
  const native = sumBy(withoutLe, `${fn}(${selector(metric.series, matchers)}${window})`);
  switch (metric.histogram) {
    case 'native':
      return native;
    case 'both':
      return `${classic} or on (${withoutLe.join(', ')}) ${native}`;
    default:
      return classic;
  }
}

/**
 * `fn(count[window])` of a histogram's observations per series: `_count` for classic buckets, `histogram_count()`
 * of the native series, or for both, whichever Prometheus stored (see {@link bucketRates}).
 */
export function observationRates(
  metric: HistogramSeries,
  matchers: readonly string[],
  window: string,
  fn = 'rate',
): string {
  const classic = `${fn}(${selector(`${metric.series}_count`, matchers)}${window})`;
  const native = `histogram_count(${fn}(${selector(metric.series, matchers)}${window}))`;
  switch (metric.histogram) {
    case 'native':
      return native;
    case 'both':
      return `${classic} or ${native}`;
    default:
      return classic;
  }
}
