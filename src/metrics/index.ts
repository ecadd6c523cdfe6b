export { type BucketSpec, defaultBuckets, resolveBuckets } from './buckets.js';
export {
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
} from './definitions.js';
export { counterFamilyName, counterSeriesName, isValidLabelName, prometheusName } from './names.js';
export { type ByteUnit, conversionRatio, type TimeUnit, type Unit, unitSuffix } from './units.js';
