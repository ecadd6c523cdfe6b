import { generate, sourceTag } from '../compile.js';
import type { Measurements, Metadata } from '../events/types.js';
import type { MetricDefinition } from '../metrics/definitions.js';
import { DropReason, type DropReasonCode } from './drop-reasons.js';
import type { ExemplarStore } from './exemplar-store.js';
import type { StoredFamily } from './family.js';
import { MAX_UINT32 } from './histogram-store.js';
import { MIN_INDEXABLE, type SketchMapping } from './log-sketch.js';
import { branchStep, MISSING_TAG, trieWalkSource } from './series-table.js';
import { stagedValue } from './staged-value.js';

/**
 * Applies one metric to one event and says why it did not record (or, having recorded, why it left out the
 * exemplar), or `DropReason.ok`. Never throws.
 */
export type RecordFunction = (measurements: Measurements, metadata: Metadata) => DropReasonCode;

/**
 * One metric definition, ready for events: keep, measurement, unit ratio, tags, then the store.
 *
 * `record` is generated per metric. Everything that the definition decides (which key, which ratio, whether
 * there is a keep or tagValues function, how many tags, how the store takes the value) is decided here, once, and
 * left out of the generated code when unused. Each generated function has its own inline caches, so its property
 * loads and its store update stay monomorphic and the measurement stays an unboxed double: recording into an
 * existing series allocates nothing. A shared `record` method saw every metric's keys and stores, went megamorphic,
 * and boxed every double.
 */
export class MetricRecorder {
  readonly record: RecordFunction;
  /** Cached series indices of this metric in `telemeter_dropped_events_total`, one per reason. */
  readonly droppedSeries = new Int32Array(16).fill(-1);
  /** What the definition's keep, measurement or tagValues function threw last, for the first log line. */
  readonly thrown: ThrownError = { error: undefined };

  constructor(
    readonly definition: MetricDefinition,
    readonly family: StoredFamily,
  ) {
    this.record =
      compileRecord(definition, family, this.thrown) ?? plainRecord(definition, family, this.thrown);
  }
}

/** Where a record function leaves what a user function threw; written only on that error path. */
export interface ThrownError {
  error: unknown;
}

/** The generated record function, or undefined where the runtime refuses code generation. */
function compileRecord(
  definition: MetricDefinition,
  family: StoredFamily,
  thrown: ThrownError,
): RecordFunction | undefined {
  const { measurement, keep, tagValues, unitRatio, exemplar } = definition;
  const countsEvents = definition.type === 'counter';
  const monotonic = definition.type === 'sum' && family.kind === 'counter';
  const idle = definition.reporterOptions.idleTimeout !== undefined;
  const R = DropReason;
  const source = `
    return function record(measurements, metadata) {
      ${sourceTag(`record ${definition.name}`)}
      ${
        keep === undefined
          ? ''
          : `let kept;
             try { kept = keep(metadata, measurements); } catch (error) { thrown.error = error; return ${R.keepError}; }
             if (!kept) return ${R.ok};`
      }
      ${
        typeof measurement === 'string'
          ? `const raw = measurements[${JSON.stringify(measurement)}];`
          : `let raw;
             try { raw = getter(measurements, metadata); } catch (error) { thrown.error = error; return ${R.measurementError}; }`
      }
      let value;
      if (typeof raw === 'number') value = raw;
      else if (raw === undefined || raw === null || raw === false) return ${R.missingMeasurement};
      else if (typeof raw === 'bigint') value = Number(raw);
      else return ${R.invalidMeasurement};
      ${unitRatio === 1 ? '' : 'value *= ratio;'}
      // x - x is 0 only for finite x: one comparison rejects NaN and both infinities.
      if (value - value !== 0) return ${R.invalidMeasurement};
      ${monotonic ? `if (value < 0) return ${R.negativeCounter};` : ''}
      ${
        tagValues === undefined
          ? 'const tags = metadata;'
          : `let tags;
             try { tags = tagValues(metadata); } catch (error) { thrown.error = error; return ${R.tagValuesError}; }
             if (typeof tags !== 'object' || tags === null) return ${R.tagValuesError};`
      }
      let series;
      ${trieWalkSource(definition.tags, 'tags', 'series')}
      if (series < 0) return series === ${MISSING_TAG} ? ${R.missingTag} : ${R.invalidTag};
      ${idle ? 'table.touched[series] = table.generation;' : ''}
      ${observeSource(family, countsEvents ? '1' : 'value')}
      ${
        exemplar === undefined
          ? `return ${R.ok};`
          : `// Reading the labels runs user code too (a getter, a proxy): inside the try, like the function.
             try {
               const labels = exemplar(metadata, measurements);
               if (labels === undefined) return ${R.ok};
               return exemplars.record(${family.kind === 'histogram' ? 'cell' : 'series'}, ${countsEvents ? '1' : 'value'}, labels);
             } catch (error) { thrown.error = error; return ${R.exemplarError}; }`
      }
    };`;
  return generate<RecordFunction>(
    [
      'keep',
      'getter',
      'ratio',
      'tagValues',
      'root',
      'miss',
      'store',
      'table',
      'branchStep',
      'thrown',
      'native',
      'exemplar',
      'exemplars',
    ],
    source,
    [
      keep,
      typeof measurement === 'function' ? measurement : undefined,
      unitRatio,
      tagValues,
      family.table.root,
      family.table.miss,
      family.store,
      family.table,
      branchStep,
      thrown,
      family.kind === 'histogram' ? family.store.native : undefined,
      exemplar,
      exemplarStoreOf(family),
    ],
  );
}

/** The family's exemplar store, which the reporter builds exactly when the definition has an `exemplar`. */
function exemplarStoreOf(family: StoredFamily): ExemplarStore | undefined {
  return family.kind === 'summary' ? undefined : family.exemplarStore;
}

/**
 * The record function for runtimes that refuse code generation: the same steps in the same order as the generated
 * one, with the definition's choices read at each event and the stores' own update methods, so it gives the same
 * results (a property test feeds both the same events and compares scrapes), only more slowly.
 */
function plainRecord(
  definition: MetricDefinition,
  family: StoredFamily,
  thrown: ThrownError,
): RecordFunction {
  const { measurement, keep, tagValues, unitRatio, exemplar } = definition;
  const countsEvents = definition.type === 'counter';
  const monotonic = definition.type === 'sum' && family.kind === 'counter';
  const idle = definition.reporterOptions.idleTimeout !== undefined;
  const { table, store } = family;
  const exemplars = exemplarStoreOf(family);
  const R = DropReason;
  return (measurements, metadata) => {
    if (keep !== undefined) {
      let kept: boolean;
      try {
        kept = keep(metadata, measurements);
      } catch (error) {
        thrown.error = error;
        return R.keepError;
      }
      if (!kept) return R.ok;
    }
    let raw: unknown;
    if (typeof measurement === 'string') raw = measurements[measurement];
    else {
      try {
        raw = measurement(measurements, metadata);
      } catch (error) {
        thrown.error = error;
        return R.measurementError;
      }
    }
    let value: number;
    if (typeof raw === 'number') value = raw;
    else if (raw === undefined || raw === null || raw === false) return R.missingMeasurement;
    else if (typeof raw === 'bigint') value = Number(raw);
    else return R.invalidMeasurement;
    if (unitRatio !== 1) value *= unitRatio;
    if (value - value !== 0) return R.invalidMeasurement;
    if (monotonic && value < 0) return R.negativeCounter;
    let tags: Metadata = metadata;
    if (tagValues !== undefined) {
      try {
        tags = tagValues(metadata);
      } catch (error) {
        thrown.error = error;
        return R.tagValuesError;
      }
      if (typeof tags !== 'object' || tags === null) return R.tagValuesError;
    }
    const series = table.resolve(tags);
    if (series < 0) return series === MISSING_TAG ? R.missingTag : R.invalidTag;
    if (idle) table.touched[series] = table.generation;
    const recorded = countsEvents ? 1 : value;
    stagedValue[0] = recorded;
    store.observeStaged(series);
    if (exemplar === undefined || exemplars === undefined) return R.ok;
    try {
      const labels = exemplar(metadata, measurements);
      if (labels === undefined) return R.ok;
      const cell =
        family.kind === 'histogram' ? series * family.store.slots + family.store.bucketOf(value) : series;
      return exemplars.record(cell, recorded, labels);
    } catch (error) {
      thrown.error = error;
      return R.exemplarError;
    }
  };
}

/**
 * Source of the store update for `family`, with the store's own decisions (add or set, which bucket) made here,
 * once. The common case is written as plain typed-array updates rather than a call into the store: a call that V8
 * does not inline (it stops inlining once a chain of calls is large enough, which a bigger event handler or its
 * caller can reach) has to box the double it passes, 16 bytes per event. Anything unusual goes to the store, and a
 * summary's sketch gets the value's bin, a small integer, rather than the value.
 */
function observeSource(family: StoredFamily, value: string): string {
  switch (family.kind) {
    case 'histogram':
      return (
        histogramObserveSource(family.store.bounds, family.store.slots) +
        // The value is staged in the native store's Float64Array rather than passed: a double passed to a call
        // that V8 does not inline is boxed (test/reporter/allocation.test.ts holds it to no allocation).
        (family.store.native === undefined
          ? ''
          : '\n    native.staged[0] = value;\n    native.observeStaged(series);')
      );
    case 'summary':
      return summaryObserveSource(family.store.mapping);
    default:
      return family.store.mode === 'add'
        ? `store.values[series] += ${value};`
        : `store.values[series] = ${value};`;
  }
}

/**
 * Source of a histogram observation with the bucket search unrolled over the bounds as literals: a balanced tree
 * of comparisons instead of a loop over a typed array. Same result as `HistogramStore.bucketOf` (inclusive `le`).
 * A count about to leave the 32-bit range goes through `HistogramStore.observeInBucket`, which widens the store.
 */
function histogramObserveSource(bounds: Float64Array, slots: number): string {
  const search = (lo: number, hi: number): string => {
    // Buckets lo..hi; bucket i holds values <= bounds[i] (and > bounds[i - 1]); bucket bounds.length is +Inf.
    if (lo === hi) return String(lo);
    const mid = (lo + hi) >>> 1;
    return `(value <= ${literal(bounds[mid])} ? ${search(lo, mid)} : ${search(mid + 1, hi)})`;
  };
  return `
    const bucket = ${search(0, bounds.length)};
    const counts = store.counts;
    const cell = series * ${slots} + bucket;
    if (counts[cell] < ${MAX_UINT32}) {
      counts[cell]++;
      store.sums[series] += value;
    } else store.observeInBucket(series, bucket, value);`;
}

/**
 * Source of a summary observation: exact sum and count in place, then the value's bin into the window. The bin is
 * the exact native histogram bucket index, computed inline from the value's exponent and mantissa bits (see
 * `bucketIndexSource`) rather than by a call, which would box the double.
 */
function summaryObserveSource(mapping: SketchMapping): string {
  return `
    store.sums[series] += value;
    store.totals[series] += 1;
    if (value > ${MIN_INDEXABLE}) {
      const sketchTables = store.mapping.tables;
      let bin;
      ${mapping.indexSource('value', 'sketchTables', 'bin')}
      store.observeBin(series, 1, bin);
    } else if (value < -${MIN_INDEXABLE}) {
      const sketchTables = store.mapping.tables;
      let bin;
      ${mapping.indexSource('-value', 'sketchTables', 'bin')}
      store.observeBin(series, -1, bin);
    } else store.observeBin(series, 0, 0);`;
}

/** A bound as a JavaScript literal that reads back as the same double. */
function literal(bound: number): string {
  return Object.is(bound, -0) ? '-0' : String(bound);
}
