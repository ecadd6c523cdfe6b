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

/** The Content-Type that labels a body in `format`; scrapers choose their parser from it. */
export function contentTypeOf(format: WireFormat): string {
  switch (format) {
    case 'openmetrics':
      return OPENMETRICS_CONTENT_TYPE;
    case 'protobuf':
      return PROTOBUF_CONTENT_TYPE;
    default:
      return PROMETHEUS_TEXT_CONTENT_TYPE;
  }
}
