/**
 * `telemeter/otlp`: pushes a Telemeter's metrics to an OTLP/HTTP receiver (an OpenTelemetry Collector,
 * Prometheus 3, Grafana Cloud, Mimir, VictoriaMetrics), in protobuf or JSON, cumulative or delta, with retries
 * and a bounded queue.
 *
 * @packageDocumentation
 */
export type { OtlpOptions } from './options.js';
export {
  OTLP_EXPORT_DROPPED_EVENT,
  OTLP_EXPORT_FAILED_EVENT,
  OTLP_EXPORT_SENT_EVENT,
  OTLP_QUEUE_EVENT,
  otlpMetrics,
} from './self-metrics.js';
export { type OtlpPush, type OtlpSource, startOtlp } from './start-otlp.js';
