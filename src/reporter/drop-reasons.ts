/** Why a metric skipped an event. Exported as the `reason` label of `telemeter_dropped_events_total`. */
export const DropReason = {
  ok: 0,
  missingMeasurement: 1,
  invalidMeasurement: 2,
  missingTag: 3,
  invalidTag: 4,
  keepError: 5,
  tagValuesError: 6,
  measurementError: 7,
  negativeCounter: 8,
  internalError: 9,
  // The event was recorded; only its exemplar was left out. Counted in telemeter_exemplars_dropped_total.
  exemplarError: 10,
  invalidExemplar: 11,
  exemplarTooLong: 12,
} as const;

/** The first reason that concerns an exemplar rather than the event (see {@link isExemplarReason}). */
const FIRST_EXEMPLAR_REASON = DropReason.exemplarError;

/** Whether `reason` says an exemplar was left out, the event itself having been recorded. */
export function isExemplarReason(reason: number): boolean {
  return reason >= FIRST_EXEMPLAR_REASON;
}

export type DropReasonCode = (typeof DropReason)[keyof typeof DropReason];

export const DROP_REASON_LABELS: readonly string[] = [
  'ok',
  'missing_measurement',
  'invalid_measurement',
  'missing_tag',
  'invalid_tag',
  'keep_error',
  'tag_values_error',
  'measurement_error',
  'negative_counter',
  'internal_error',
  'exemplar_error',
  'invalid_exemplar',
  'exemplar_too_long',
];

export const DROP_REASON_HINTS: readonly string[] = [
  '',
  'the event has no such measurement (or it is null)',
  'the measurement is not a finite number (NaN, Infinity, a string, an object)',
  'the metadata lacks a tag',
  'a tag value is not a string, number, boolean or bigint, or is not finite',
  'the keep/drop function threw',
  'the tagValues function threw or returned a non-object',
  'the measurement function threw',
  'a counter-typed sum cannot decrease; use reporterOptions.prometheusType: "gauge"',
  'an unexpected error',
  'the exemplar function (or a getter of what it returned) threw; the measurement was recorded without an exemplar',
  'the exemplar function returned neither undefined nor an object of valid label names to strings; the measurement was recorded without an exemplar',
  'the exemplar labels (names and values) exceed 128 code points, the OpenMetrics limit; the measurement was recorded without an exemplar',
];
