/**
 * telemeter: :telemetry-style events, Telemetry.Metrics-style definitions, and an aggregating
 * Prometheus/OpenMetrics reporter, for Node.js.
 *
 * @packageDocumentation
 */

export {
  ERROR_CODES,
  TelemeterError,
  type TelemeterErrorCode,
  TelemeterTypeError,
} from './errors.js';
export {
  attach,
  attachMany,
  detach,
  type EventHandler,
  execute,
  HANDLER_FAILURE_EVENT,
  HandlerError,
  type HandlerInfo,
  hasHandlers,
  listHandlers,
  type Measurements,
  type Metadata,
  monotonicTime,
  type SpanContext,
  type SpanControl,
  span,
  systemTime,
} from './events/index.js';
export {
  contentTypeOf,
  type ExpositionFormat,
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_TEXT_CONTENT_TYPE,
  PROTOBUF_CONTENT_TYPE,
  type WireFormat,
} from './exposition/index.js';
export { type LogFields, type Logger, type LogSink, setLogger } from './logger.js';
export {
  type BucketSpec,
  counter,
  distribution,
  lastValue,
  type MeasurementGetter,
  type MetricDefinition,
  type MetricOptions,
  type MetricType,
  type NativeHistogramOptions,
  type ReporterOptions,
  sum,
  summary,
  type Unit,
} from './metrics/index.js';
export type {
  FamilyBase,
  FamilyKind,
  HistogramFamily,
  HistogramLayout,
  MetricFamily,
  NativeBuckets,
  NativeHistogramData,
  ScalarFamily,
  SeriesHandle,
  SummaryFamily,
  SummaryWindow,
} from './reporter/index.js';
export { type ScrapeOptions, Telemeter, type TelemeterOptions } from './telemeter.js';
