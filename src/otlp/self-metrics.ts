import { lastValue, type MetricDefinition, sum } from '../metrics/definitions.js';

/** Emitted when a receiver accepted an export: measurements `exports` (1), `bytes` (the body sent), `dataPoints`. */
export const OTLP_EXPORT_SENT_EVENT = 'telemeter.otlp.export.sent';
/**
 * Emitted for each attempt that failed: measurements `exports` (1), `bytes`; metadata `reason` (the HTTP status,
 * such as `503`, or `network`, or `timeout`) and `retry` (true when the export stays queued to be tried again).
 */
export const OTLP_EXPORT_FAILED_EVENT = 'telemeter.otlp.export.failed';
/**
 * Emitted for each export given up: measurements `exports` (1), `dataPoints`; metadata `reason`: `queue_full`
 * (the queue's bound was reached while the receiver could not take them: the oldest go first), `rejected` (the
 * receiver refused it with a status that must not be retried, such as 400) or `stopped` (still queued when
 * `stop()` gave up waiting). A partial success (a 2xx whose answer counts `rejected_data_points`) emits it with
 * `exports` 0 and the points rejected, reason `rejected`.
 */
export const OTLP_EXPORT_DROPPED_EVENT = 'telemeter.otlp.export.dropped';
/** Emitted before each read of the metrics: measurements `exports` and `bytes` held in the queue. */
export const OTLP_QUEUE_EVENT = 'telemeter.otlp.queue';

/**
 * The OTLP exporter's health metrics, to list among a Telemeter's metrics (`metrics: [...mine, ...otlpMetrics()]`):
 * `telemeter_otlp_exports_total` (delivered), `telemeter_otlp_export_failures_total{reason}` (failed attempts,
 * retried or not), `telemeter_otlp_dropped_exports_total{reason}` and `telemeter_otlp_dropped_data_points_total{reason}`
 * (given up), `telemeter_otlp_queued_exports` and `telemeter_otlp_queued_bytes` (waiting now). They count every
 * exporter of the process.
 */
export function otlpMetrics(): MetricDefinition[] {
  return [
    sum('telemeter.otlp.exports_total', {
      eventName: OTLP_EXPORT_SENT_EVENT,
      measurement: 'exports',
      description: 'OTLP exports the receiver accepted.',
    }),
    sum('telemeter.otlp.export_failures_total', {
      eventName: OTLP_EXPORT_FAILED_EVENT,
      measurement: 'exports',
      tags: ['reason'],
      description: 'OTLP export attempts that failed, by HTTP status, network or timeout; most are retried.',
    }),
    sum('telemeter.otlp.dropped_exports_total', {
      eventName: OTLP_EXPORT_DROPPED_EVENT,
      measurement: 'exports',
      tags: ['reason'],
      description: 'OTLP exports given up: queue_full, rejected by the receiver, or left when stopped.',
    }),
    sum('telemeter.otlp.dropped_data_points_total', {
      eventName: OTLP_EXPORT_DROPPED_EVENT,
      measurement: 'dataPoints',
      tags: ['reason'],
      description: 'Data points in the OTLP exports given up.',
    }),
    lastValue('telemeter.otlp.queued_exports', {
      eventName: OTLP_QUEUE_EVENT,
      measurement: 'exports',
      description: 'OTLP exports waiting for the receiver.',
    }),
    lastValue('telemeter.otlp.queued_bytes', {
      eventName: OTLP_QUEUE_EVENT,
      measurement: 'bytes',
      description: 'Bytes of the OTLP exports waiting for the receiver.',
    }),
  ];
}
