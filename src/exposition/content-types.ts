/** The two text exposition formats telemeter writes. */
export type ExpositionFormat = 'text' | 'openmetrics';

/** Every format telemeter can answer a scrape in: the text formats, and the Prometheus protobuf exposition. */
export type WireFormat = ExpositionFormat | 'protobuf';

/** Content-Type of Prometheus text format 0.0.4. */
export const PROMETHEUS_TEXT_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Content-Type of OpenMetrics 1.0 text. */
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/** Content-Type of the Prometheus protobuf exposition: length-delimited `io.prometheus.client.MetricFamily`. */
export const PROTOBUF_CONTENT_TYPE =
  'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited';

/**
 * The Content-Type that labels a body in `format`; scrapers choose their parser from it. `escaping` (Prometheus
 * 3's `escaping=allow-utf-8`, `underscores`, ...) is named on OpenMetrics 1.0.0, which must say how its names
 * were escaped when the scraper asked for a scheme; text 0.0.4 and protobuf never carry it.
 */
export function contentTypeOf(format: WireFormat, escaping?: string): string {
  switch (format) {
    case 'openmetrics':
      return escaping === undefined
        ? OPENMETRICS_CONTENT_TYPE
        : `${OPENMETRICS_CONTENT_TYPE}; escaping=${escaping}`;
    case 'protobuf':
      return PROTOBUF_CONTENT_TYPE;
    default:
      return PROMETHEUS_TEXT_CONTENT_TYPE;
  }
}
