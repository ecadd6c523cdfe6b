/**
 * One periodic measurement: a function that reads something and reports it with `execute`.
 *
 * `measure` runs once per poll. If it throws (or returns a promise that rejects), its poller removes it for good,
 * as telemetry_poller does. `stop`, when present, releases what the measurement holds (a monitor, an observer);
 * the poller calls it when it stops or removes the measurement.
 */
export interface Measurement {
  /** Shown by `listMeasurements()` and in failure logs and events. */
  readonly name: string;
  measure(): unknown;
  stop?(): void;
}
