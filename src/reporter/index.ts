/**
 * The reporter's interface to the rest of telemeter, and the only module outside `reporter/` may import: the
 * reporter itself, the read model every exporter reads (families and their series), and the merge interface
 * through which the cluster adds other processes' data. Tables and stores stay behind it.
 *
 * @packageDocumentation
 */
export type { SeriesHandle } from './bound-series.js';
export {
  type FamilyMerge,
  familyMerges,
  type HistogramMerge,
  type MergeShape,
  type ObservationTap,
  type ScalarMerge,
  type SketchBins,
  type SummaryMerge,
} from './merge.js';
export { nativeDifference } from './native-delta.js';
export {
  type BucketSpan,
  downscaleData,
  type NativeBuckets,
  type NativeHistogramData,
  type OtlpBuckets,
  type SpansAndDeltas,
  toOtlpBuckets,
  toSpansAndDeltas,
} from './native-histogram.js';
export type {
  Exemplar,
  FamilyBase,
  FamilyKind,
  HistogramFamily,
  HistogramLayout,
  MetricFamily,
  ScalarFamily,
  SummaryFamily,
  SummaryWindow,
} from './read-model.js';
export { Reporter, type ReporterConfig, TELEMETER_OPTIONS } from './reporter.js';
export { scrapeDefinitions } from './self-definitions.js';
