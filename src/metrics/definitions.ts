import { TelemeterTypeError } from '../errors.js';
import { describe } from '../events/event-name.js';
import type { Measurements, Metadata } from '../events/types.js';
import { processLog } from '../logger.js';
import { checkOptionKeys } from '../options.js';
import { type BucketSpec, resolveBuckets } from './buckets.js';
import { conversionRatio, type Unit } from './units.js';

/** The five metric types of Telemetry.Metrics. */
export type MetricType = 'counter' | 'sum' | 'last_value' | 'summary' | 'distribution';

/** Reads a measurement from an event: a key of the measurements, or a function of measurements and metadata. */
export type MeasurementGetter = string | ((measurements: Measurements, metadata: Metadata) => unknown);

/**
 * Options of telemeter's reporter. Any other key is a mistake and fails at start-up; options meant for another
 * reporter go under `thirdParty`, which telemeter keeps as given and never reads.
 */
export interface ReporterOptions {
  /** Exposition type of a `sum` (`counter` by default, `gauge` for sums that can go down) or `lastValue` (`gauge`). */
  readonly prometheusType?: 'counter' | 'gauge';
  /**
   * Distribution bucket bounds (inclusive `le`), strictly increasing, at most 1 000. Defaults depend on the unit.
   * Classic buckets only: refused with `histogram: 'native'`, which keeps none.
   */
  readonly buckets?: BucketSpec;
  /**
   * Which buckets a distribution keeps: `'classic'` (the default) with the fixed bounds of `buckets`, `'native'`
   * with Prometheus's sparse exponential buckets only (exposed over protobuf; the text formats get the count and the
   * sum, with one `+Inf` bucket), or `'both'` (classic buckets for text scrapers, native ones for protobuf).
   */
  readonly histogram?: 'classic' | 'native' | 'both';
  /** The native buckets' resolution and limits, with `histogram: 'native'` or `'both'`. */
  readonly nativeHistogram?: NativeHistogramOptions;
  /** Summary quantiles, each in [0, 1], each once. Default `[0.5, 0.9, 0.95, 0.99]`. */
  readonly quantiles?: readonly number[];
  /** Summary sliding window, in seconds: at least 1, and each of its `ageBuckets` slots at most 24.8 days. Default 600. */
  readonly maxAgeSeconds?: number;
  /** Number of slots the summary window rotates through. Default 5. */
  readonly ageBuckets?: number;
  /** Relative error bound of summary quantiles. Default 0.01 (1%). */
  readonly relativeAccuracy?: number;
  /** Most series (tag combinations) this metric keeps; further ones fold into one overflow series. */
  readonly maxSeries?: number;
  /**
   * Milliseconds without a recording after which a series is forgotten, so memory follows live tag sets
   * (1 000 to 4 294 967 294, about 49.7 days). Series of bound handles never expire.
   */
  readonly idleTimeout?: number;
  /** Options for other reporters of the same definitions, kept as given; telemeter does not read them. */
  readonly thirdParty?: Readonly<Record<string, unknown>>;
}

/**
 * Options of a distribution's native buckets (`reporterOptions.nativeHistogram`); every one is optional. Bucket `i`
 * of schema `n` holds the values in `(2^((i-1)·2^-n), 2^(i·2^-n)]`, and the negative mirror.
 */
export interface NativeHistogramOptions {
  /**
   * The largest ratio wanted between a bucket's upper and lower bound, > 1. The schema is the coarsest whose
   * factor `2^(2^-schema)` is at most this: 1.1 gives schema 3 (the default), whose quantiles are within about 4.5%.
   * Set either this or `schema`.
   */
  readonly bucketFactor?: number;
  /** The schema, an integer from -4 (factor 65536) to 8 (factor 1.0027). Set either this or `bucketFactor`. */
  readonly schema?: number;
  /**
   * Values with `|v| <= zeroThreshold` count in the zero bucket. Default 2^-128 (as Prometheus's own clients); 0
   * counts only exact zeros.
   */
  readonly zeroThreshold?: number;
  /**
   * Populated buckets per series (both signs) above which the series' resolution is halved, as often as needed.
   * An integer >= 2; default 160.
   */
  readonly maxBucketCount?: number;
}

/** The options shared by every metric constructor, as in Telemetry.Metrics. */
export interface MetricOptions {
  /** Event to listen to. Defaults to the name without its last segment. */
  readonly eventName?: string;
  /** Measurement key, or a function of `(measurements, metadata)`. Defaults to the name's last segment. */
  readonly measurement?: MeasurementGetter;
  /** Metadata keys that become labels. An event missing one of them is skipped for this metric. */
  readonly tags?: readonly string[];
  /** Maps the metadata before tags are taken from it. */
  readonly tagValues?: (metadata: Metadata) => Metadata;
  /** Records the event only when this returns true. Runs on the raw metadata, before `tagValues`. */
  readonly keep?: (metadata: Metadata, measurements: Measurements) => boolean;
  /** Records the event unless this returns true. Exclusive with `keep`. */
  readonly drop?: (metadata: Metadata, measurements: Measurements) => boolean;
  /** HELP text. */
  readonly description?: string;
  /** A unit label (`'request'`), or a `[from, to]` conversion between time or byte units. */
  readonly unit?: Unit | readonly [Unit, Unit];
  readonly reporterOptions?: ReporterOptions;
}

/** A validated, frozen metric definition. Reporters read these; nothing mutates them. */
export interface MetricDefinition {
  readonly type: MetricType;
  /** The name as written, e.g. `http.request.stop.duration`. */
  readonly name: string;
  readonly eventName: string;
  readonly measurement: MeasurementGetter;
  /** Multiplier applied to every measurement (1 when the unit is not converted). */
  readonly unitRatio: number;
  readonly tags: readonly string[];
  readonly tagValues: ((metadata: Metadata) => Metadata) | undefined;
  readonly keep: ((metadata: Metadata, measurements: Measurements) => boolean) | undefined;
  readonly description: string | undefined;
  /** The unit after conversion (`'millisecond'` for `['native', 'millisecond']`), or `'unit'`. */
  readonly unit: string;
  readonly reporterOptions: ReporterOptions;
}

const REPORTER_OPTIONS = [
  'prometheusType',
  'buckets',
  'quantiles',
  'maxAgeSeconds',
  'ageBuckets',
  'relativeAccuracy',
  'maxSeries',
  'idleTimeout',
  'histogram',
  'nativeHistogram',
  'thirdParty',
];

const NATIVE_HISTOGRAM_OPTIONS = ['bucketFactor', 'schema', 'zeroThreshold', 'maxBucketCount'];

const KNOWN_OPTIONS = new Set([
  'eventName',
  'measurement',
  'tags',
  'tagValues',
  'keep',
  'drop',
  'description',
  'unit',
  'reporterOptions',
]);

function define(type: MetricType, name: unknown, options: MetricOptions = {}): MetricDefinition {
  if (typeof name !== 'string' || name === '') {
    throw new TelemeterTypeError(
      'ERR_TELEMETER_INVALID_ARGUMENT',
      `telemeter: ${type}: a metric name must be a non-empty dotted string, got ${describe(name)}`,
    );
  }
  const fail = (option: string, why: string): never => {
    throw new TelemeterTypeError(
      'ERR_TELEMETER_INVALID_OPTION',
      `telemeter: metric "${name}": option ${option} ${why}`,
    );
  };
  const segments = name.split('.');
  if (segments.some((s) => s === '')) {
    throw new TelemeterTypeError(
      'ERR_TELEMETER_INVALID_ARGUMENT',
      `telemeter: metric "${name}": the name contains leading, trailing or consecutive dots`,
    );
  }
  checkOptionKeys(`telemeter: metric "${name}"`, options, KNOWN_OPTIONS);

  let eventName: string;
  if (options.eventName !== undefined) {
    if (typeof options.eventName !== 'string' || options.eventName === '') {
      fail('eventName', 'must be a non-empty dotted string');
    }
    if (options.eventName.split('.').some((s) => s === '')) {
      fail('eventName', `"${options.eventName}" contains leading, trailing or consecutive dots`);
    }
    eventName = options.eventName;
  } else {
    if (segments.length < 2) fail('eventName', 'is required: the metric must be namespaced or set eventName');
    eventName = segments.slice(0, -1).join('.');
  }

  const measurement = options.measurement ?? segments[segments.length - 1];
  if (typeof measurement !== 'string' && typeof measurement !== 'function') {
    fail('measurement', 'must be a measurement key or a function (measurements, metadata) => number');
  }
  if (typeof measurement === 'string' && measurement === '') fail('measurement', 'must not be empty');

  const tags = options.tags ?? [];
  if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string' || t === '')) {
    fail('tags', 'must be an array of metadata keys (non-empty strings)');
  }
  if (new Set(tags).size !== tags.length) fail('tags', `lists a tag twice: ${tags.join(', ')}`);

  if (options.tagValues !== undefined && typeof options.tagValues !== 'function') {
    fail('tagValues', 'must be a function (metadata) => metadata');
  }
  if (options.keep !== undefined && options.drop !== undefined) {
    fail('keep', 'and drop are mutually exclusive: set either keep or drop, not both');
  }
  if (options.keep !== undefined && typeof options.keep !== 'function') fail('keep', 'must be a function');
  if (options.drop !== undefined && typeof options.drop !== 'function') fail('drop', 'must be a function');
  const drop = options.drop;
  const keep = drop !== undefined ? (md: Metadata, m: Measurements) => !drop(md, m) : options.keep;

  if (options.description !== undefined && typeof options.description !== 'string') {
    fail('description', 'must be a string');
  }

  let unit = 'unit';
  let unitRatio = 1;
  if (options.unit !== undefined) {
    if (typeof options.unit === 'string') {
      if (options.unit === '') fail('unit', 'must not be empty');
      unit = options.unit;
    } else if (
      Array.isArray(options.unit) &&
      options.unit.length === 2 &&
      typeof options.unit[0] === 'string' &&
      typeof options.unit[1] === 'string'
    ) {
      unitRatio = conversionRatio(options.unit[0], options.unit[1], name);
      unit = options.unit[1];
    } else {
      fail('unit', 'must be a unit name or a [from, to] pair of unit names');
    }
  }

  const reporterOptions = options.reporterOptions ?? {};
  // Also rejects reporterOptions that are not an object: "option reporterOptions must be an object".
  checkOptionKeys(`telemeter: metric "${name}"`, reporterOptions, REPORTER_OPTIONS, 'reporterOptions.');
  validateReporterOptions(type, reporterOptions, fail);
  validateHistogramOptions(name, type, reporterOptions, fail);
  // Bounds are checked here, at definition time. Other types have none (checked above): their defaults cannot fail.
  resolveBuckets(reporterOptions.buckets, unit, name);

  if (type === 'distribution' && measurement === 'system_time') {
    processLog.warnOnce(
      `system-time:${name}`,
      {},
      `metric "${name}": a distribution of system_time (a wall-clock timestamp) puts every event in the +Inf bucket; use lastValue, or measure a duration`,
    );
  }

  return Object.freeze({
    type,
    name,
    eventName,
    measurement,
    unitRatio,
    tags: Object.freeze([...tags]),
    tagValues: options.tagValues,
    keep,
    description: options.description,
    unit,
    reporterOptions: Object.freeze(
      reporterOptions.nativeHistogram === undefined
        ? { ...reporterOptions }
        : { ...reporterOptions, nativeHistogram: Object.freeze({ ...reporterOptions.nativeHistogram }) },
    ),
  });
}

/** The longest delay a Node.js timer takes; a longer one fires after 1 ms instead, with a warning. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const MIN_IDLE_TIMEOUT_MS = 1000;
// A series expires after between one and one and a half timeouts of silence, swept every half timeout.
const MAX_IDLE_TIMEOUT_MS = 2 * MAX_TIMER_MS;

function validateReporterOptions(
  type: MetricType,
  options: ReporterOptions,
  fail: (option: string, why: string) => never,
): void {
  const { prometheusType, quantiles, maxAgeSeconds, ageBuckets, relativeAccuracy, maxSeries, buckets } =
    options;
  if (prometheusType !== undefined) {
    const allowed = type === 'sum' ? ['counter', 'gauge'] : type === 'last_value' ? ['gauge'] : [];
    if (!allowed.includes(prometheusType as string)) {
      fail(
        'reporterOptions.prometheusType',
        allowed.length === 0
          ? `is not supported for a ${type}`
          : `must be ${allowed.map((a) => `'${a}'`).join(' or ')} for a ${type}, got ${describe(prometheusType)}`,
      );
    }
  }
  if (buckets !== undefined && type !== 'distribution') {
    fail('reporterOptions.buckets', `applies to distributions only, not to a ${type}`);
  }
  for (const option of ['quantiles', 'maxAgeSeconds', 'ageBuckets', 'relativeAccuracy'] as const) {
    if (options[option] !== undefined && type !== 'summary') {
      fail(`reporterOptions.${option}`, `applies to summaries only, not to a ${type}`);
    }
  }
  if (quantiles !== undefined) {
    if (
      !Array.isArray(quantiles) ||
      quantiles.length === 0 ||
      quantiles.some((q) => typeof q !== 'number' || !(q >= 0 && q <= 1))
    ) {
      fail(
        'reporterOptions.quantiles',
        `must be a non-empty array of numbers in [0, 1], got ${describe(quantiles)}`,
      );
    }
    const repeated = quantiles.find((q, i) => quantiles.indexOf(q) !== i);
    // 0 and -0 are one quantile too: both render as quantile="0.0".
    if (repeated !== undefined) fail('reporterOptions.quantiles', `lists ${repeated} twice`);
  }
  if (ageBuckets !== undefined && !(Number.isInteger(ageBuckets) && ageBuckets >= 1 && ageBuckets <= 60)) {
    fail('reporterOptions.ageBuckets', `must be an integer from 1 to 60, got ${describe(ageBuckets)}`);
  }
  if (maxAgeSeconds !== undefined) {
    if (!(typeof maxAgeSeconds === 'number' && maxAgeSeconds >= 1)) {
      fail(
        'reporterOptions.maxAgeSeconds',
        `must be a number of seconds >= 1, got ${describe(maxAgeSeconds)}`,
      );
    }
    const slots = ageBuckets ?? 5;
    if (!((maxAgeSeconds * 1000) / slots <= MAX_TIMER_MS)) {
      fail(
        'reporterOptions.maxAgeSeconds',
        `divided by ageBuckets (${slots}) must be at most ${Math.floor(MAX_TIMER_MS / 1000)} seconds (24.8 days), the longest timer Node.js keeps; got ${maxAgeSeconds}. Raise ageBuckets or shorten the window`,
      );
    }
  }
  if (
    relativeAccuracy !== undefined &&
    !(typeof relativeAccuracy === 'number' && relativeAccuracy > 0 && relativeAccuracy < 1)
  ) {
    fail(
      'reporterOptions.relativeAccuracy',
      `must be a number between 0 and 1 (exclusive), got ${describe(relativeAccuracy)}`,
    );
  }
  if (maxSeries !== undefined && !(Number.isInteger(maxSeries) && maxSeries >= 1)) {
    fail('reporterOptions.maxSeries', `must be an integer >= 1, got ${describe(maxSeries)}`);
  }
  const { idleTimeout, thirdParty } = options;
  if (
    idleTimeout !== undefined &&
    !(
      typeof idleTimeout === 'number' &&
      idleTimeout >= MIN_IDLE_TIMEOUT_MS &&
      idleTimeout <= MAX_IDLE_TIMEOUT_MS
    )
  ) {
    fail(
      'reporterOptions.idleTimeout',
      `must be a number of milliseconds from ${MIN_IDLE_TIMEOUT_MS} to ${MAX_IDLE_TIMEOUT_MS} (about 49.7 days), got ${describe(idleTimeout)}`,
    );
  }
  if (
    thirdParty !== undefined &&
    (typeof thirdParty !== 'object' || thirdParty === null || Array.isArray(thirdParty))
  ) {
    fail(
      'reporterOptions.thirdParty',
      `must be an object of other reporters' options, got ${describe(thirdParty)}`,
    );
  }
}

/** `histogram` and `nativeHistogram`: which buckets a distribution keeps, and the native ones' parameters. */
function validateHistogramOptions(
  name: string,
  type: MetricType,
  options: ReporterOptions,
  fail: (option: string, why: string) => never,
): void {
  const { histogram, nativeHistogram, buckets } = options;
  if (histogram === undefined && nativeHistogram === undefined) return;
  if (type !== 'distribution') {
    fail(
      `reporterOptions.${histogram !== undefined ? 'histogram' : 'nativeHistogram'}`,
      `applies to distributions only, not to a ${type}`,
    );
  }
  if (histogram !== undefined && histogram !== 'classic' && histogram !== 'native' && histogram !== 'both') {
    fail('reporterOptions.histogram', `must be 'classic', 'native' or 'both', got ${describe(histogram)}`);
  }
  if (histogram === 'native' && buckets !== undefined) {
    fail(
      'reporterOptions.buckets',
      "sets classic bucket bounds, which histogram: 'native' does not keep; use histogram: 'both' to keep them too",
    );
  }
  if (nativeHistogram === undefined) return;
  if (histogram !== 'native' && histogram !== 'both') {
    fail(
      'reporterOptions.nativeHistogram',
      `applies only with histogram: 'native' or 'both' (histogram is ${histogram === undefined ? "'classic' by default" : "'classic'"})`,
    );
  }
  checkOptionKeys(
    `telemeter: metric "${name}"`,
    nativeHistogram,
    NATIVE_HISTOGRAM_OPTIONS,
    'reporterOptions.nativeHistogram.',
  );
  const { bucketFactor, schema, zeroThreshold, maxBucketCount } = nativeHistogram;
  const option = (key: string) => `reporterOptions.nativeHistogram.${key}`;
  if (bucketFactor !== undefined && schema !== undefined) {
    fail(option('schema'), 'and bucketFactor both set the resolution: set one of them');
  }
  if (
    bucketFactor !== undefined &&
    !(typeof bucketFactor === 'number' && bucketFactor > 1 && Number.isFinite(bucketFactor))
  ) {
    fail(
      option('bucketFactor'),
      `must be a finite number > 1 (1.1 gives schema 3), got ${describe(bucketFactor)}`,
    );
  }
  if (schema !== undefined && !(Number.isInteger(schema) && schema >= -4 && schema <= 8)) {
    fail(option('schema'), `must be an integer from -4 to 8, got ${describe(schema)}`);
  }
  if (
    zeroThreshold !== undefined &&
    !(typeof zeroThreshold === 'number' && zeroThreshold >= 0 && Number.isFinite(zeroThreshold))
  ) {
    fail(option('zeroThreshold'), `must be a finite number >= 0, got ${describe(zeroThreshold)}`);
  }
  if (maxBucketCount !== undefined && !(Number.isInteger(maxBucketCount) && maxBucketCount >= 2)) {
    fail(option('maxBucketCount'), `must be an integer >= 2, got ${describe(maxBucketCount)}`);
  }
}

/** Counts events. The measurement must be present (and numeric) for the event to count. */
export function counter(name: string, options?: MetricOptions): MetricDefinition {
  return define('counter', name, options);
}

/** Adds up a measurement. Exported as a counter, or a gauge with `reporterOptions.prometheusType: 'gauge'`. */
export function sum(name: string, options?: MetricOptions): MetricDefinition {
  return define('sum', name, options);
}

/** Keeps the most recent measurement. Exported as a gauge. */
export function lastValue(name: string, options?: MetricOptions): MetricDefinition {
  return define('last_value', name, options);
}

/** Quantiles over a sliding window, plus an exact sum and count. Exported as a summary. */
export function summary(name: string, options?: MetricOptions): MetricDefinition {
  return define('summary', name, options);
}

/** A histogram of the measurement, with inclusive bucket bounds. Exported as a histogram. */
export function distribution(name: string, options?: MetricOptions): MetricDefinition {
  return define('distribution', name, options);
}
