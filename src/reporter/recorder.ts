import type { Measurements, Metadata } from '../events/types.js';
import type { MetricDefinition } from '../metrics/definitions.js';
import { DropReason, type DropReasonCode } from './drop-reasons.js';
import type { Family } from './family.js';
import { MISSING_TAG } from './series-table.js';

/**
 * Applies one metric definition to one event: keep, measurement, unit ratio, tags, then the store.
 *
 * Everything that can be decided from the definition is decided here, once. `record` returns a
 * reason code instead of throwing, so one bad event or metric never affects the others.
 */
export class MetricRecorder {
  private readonly key: string | undefined;
  private readonly getter: ((m: Measurements, md: Metadata) => unknown) | undefined;
  private readonly ratio: number;
  private readonly keep: MetricDefinition['keep'];
  private readonly tagValues: MetricDefinition['tagValues'];
  private readonly countsEvents: boolean;
  private readonly monotonic: boolean;
  /** Cached series indices of this metric in `telemeter_dropped_events_total`, one per reason. */
  readonly droppedSeries = new Int32Array(16).fill(-1);

  constructor(
    readonly definition: MetricDefinition,
    readonly family: Family,
  ) {
    const m = definition.measurement;
    this.key = typeof m === 'string' ? m : undefined;
    this.getter = typeof m === 'function' ? m : undefined;
    this.ratio = definition.unitRatio;
    this.keep = definition.keep;
    this.tagValues = definition.tagValues;
    this.countsEvents = definition.type === 'counter';
    this.monotonic = definition.type === 'sum' && family.kind === 'counter';
  }

  record(measurements: Measurements, metadata: Metadata): DropReasonCode {
    if (this.keep !== undefined) {
      let kept: boolean;
      try {
        kept = this.keep(metadata, measurements);
      } catch {
        return DropReason.keepError;
      }
      if (!kept) return DropReason.ok;
    }

    let raw: unknown;
    if (this.key !== undefined) {
      raw = measurements[this.key];
    } else {
      try {
        raw = this.getter!(measurements, metadata);
      } catch {
        return DropReason.measurementError;
      }
    }
    let value: number;
    if (typeof raw === 'number') value = raw;
    else if (raw === undefined || raw === null || raw === false) return DropReason.missingMeasurement;
    else if (typeof raw === 'bigint') value = Number(raw);
    else return DropReason.invalidMeasurement;
    if (this.ratio !== 1) value *= this.ratio;
    // Rejects NaN and both infinities in one comparison: x - x is 0 only for finite x.
    if (value - value !== 0) return DropReason.invalidMeasurement;
    if (this.monotonic && value < 0) return DropReason.negativeCounter;

    let tagSource = metadata;
    if (this.tagValues !== undefined) {
      try {
        tagSource = this.tagValues(metadata);
      } catch {
        return DropReason.tagValuesError;
      }
      if (typeof tagSource !== 'object' || tagSource === null) return DropReason.tagValuesError;
    }
    const series = this.family.table.resolve(tagSource);
    if (series < 0) return series === MISSING_TAG ? DropReason.missingTag : DropReason.invalidTag;
    this.family.store.observe(series, this.countsEvents ? 1 : value);
    return DropReason.ok;
  }
}
