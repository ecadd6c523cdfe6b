import { generate, sourceTag } from '../compile.js';
import { warnDeprecated } from '../deprecation.js';
import { invalidOption, TelemeterTypeError } from '../errors.js';
import { attach, detach } from '../events/bus.js';
import { runCollectors } from '../events/collectors.js';
import { describe } from '../events/event-name.js';
import type { EventHandler, Metadata } from '../events/types.js';
import { checkLogger, type Logger, LogSink } from '../logger.js';
import { resolveBuckets } from '../metrics/buckets.js';
import type { MetricDefinition } from '../metrics/definitions.js';
import { counterFamilyName, counterSeriesName, isValidLabelName, prometheusName } from '../metrics/names.js';
import { unitSuffix } from '../metrics/units.js';
import { checkOptionKeys } from '../options.js';
import { BoundSeries, type SeriesHandle } from './bound-series.js';
import { DROP_REASON_HINTS, DROP_REASON_LABELS, DropReason } from './drop-reasons.js';
import {
  type StoredFamily,
  StoredHistogramFamily,
  StoredScalarFamily,
  StoredSummaryFamily,
  sampleNames,
} from './family.js';
import { HistogramStore } from './histogram-store.js';
import { labelRenderer } from './label-block.js';
import { NativeHistogramStore } from './native-histogram.js';
import { PeriodicTask, periodicWorkByClock } from './periodic-work.js';
import type { FamilyKind, MetricFamily } from './read-model.js';
import { MetricRecorder, type RecordFunction } from './recorder.js';
import { ScalarStore } from './scalar-store.js';
import { scrapeDefinitions } from './self-definitions.js';
import { SeriesTable } from './series-table.js';
import { ClockedSummaryStore, SummaryStore } from './summary-store.js';

/** Options of a {@link Reporter} (and of `Telemeter`). */
export interface ReporterConfig {
  /**
   * The metric definitions to aggregate, made with `counter`, `sum`, `lastValue`, `summary`, `distribution`. One
   * definition object listed more than once (as integrations that share a family list it) is one metric.
   */
  readonly metrics: readonly MetricDefinition[];
  /** Labels added to every series at export; a metric's own tag of the same name wins. */
  readonly globalTags?: Readonly<Record<string, string | number | boolean>>;
  /** Default series limit per metric (`reporterOptions.maxSeries` overrides it). Default 10 000. */
  readonly maxSeries?: number;
  /**
   * Export telemeter's own health metrics: dropped events, overflows, series counts, and scrapes answered by
   * `telemeter/server` (`telemeter_scrapes_total`, `telemeter_scrape_duration_seconds`). Default true.
   */
  readonly selfMetrics?: boolean;
  /**
   * Where this Telemeter logs its problems (anything with `warn` and `error`, such as a pino logger; see
   * {@link Logger}). Default: the process-wide logger of `setLogger`, which writes to the console.
   */
  readonly logger?: Logger;
}

/** The keys of {@link ReporterConfig}, for the functions that take a Telemeter's options and more. */
export const TELEMETER_OPTIONS: readonly string[] = [
  'metrics',
  'globalTags',
  'maxSeries',
  'selfMetrics',
  'logger',
];
const DEFAULT_MAX_SERIES = 10_000;
const THROWN_BY_USER_FUNCTION: ReadonlySet<number> = new Set([
  DropReason.keepError,
  DropReason.measurementError,
  DropReason.tagValuesError,
]);
const DEFAULT_QUANTILES = [0.5, 0.9, 0.95, 0.99];
const RESERVED_SELF_NAMES = [
  'telemeter_dropped_events_total',
  'telemeter_series_overflow_total',
  'telemeter_series',
];

let instanceSequence = 0;

/** Each reporter's families with their tables and stores, for `reporter/` alone (see {@link storedFamilies}). */
const storage = new WeakMap<Reporter, readonly StoredFamily[]>();

/**
 * The families of `reporter` as stored, with their tables and stores: for the modules of `reporter/` that write
 * (merges) and for tests of the storage. Everything else reads {@link Reporter.metricFamilies}.
 */
export function storedFamilies(reporter: Reporter): readonly StoredFamily[] {
  return storage.get(reporter) ?? [];
}

/**
 * The aggregating reporter: attaches one handler per event name, records each event into in-memory series
 * as it happens, and holds the families that a scrape renders. Memory grows with series, never with events.
 */
export class Reporter {
  /**
   * Every family this Telemeter exports, in definition order, then telemeter's own: the read model that the
   * exposition formats, StatsD, the cluster and the dashboard read. Each is a live view of the storage (see
   * {@link MetricFamily}). Call {@link refreshComputedFamilies} first to read the gauges reported on read and
   * `telemeter_series` as of now.
   */
  readonly metricFamilies: readonly MetricFamily[];
  /**
   * The logger this Telemeter reports through: the `logger` option, or the process-wide one. Its calls never throw,
   * and it remembers what it logged once (a skipped event, an overflow) for this Telemeter alone.
   */
  readonly logger: LogSink;
  private readonly handlerIds: string[] = [];
  private readonly timers: ReturnType<typeof setInterval>[] = [];
  /** Whether periodic work is caught up from the clock instead of run on intervals (see periodic-work.ts). */
  private readonly byClock = periodicWorkByClock();
  /** With {@link byClock}: the idle-series sweeps, run when the families are next read. */
  private readonly clockedSweeps: PeriodicTask[] = [];
  private readonly droppedFamily: StoredScalarFamily;
  private readonly overflowFamily: StoredScalarFamily;
  private readonly seriesFamily: StoredScalarFamily;
  private readonly userFamilies: StoredFamily[] = [];
  private readonly recorders: MetricRecorder[] = [];
  private closed = false;

  constructor(config: ReporterConfig) {
    if (typeof config !== 'object' || config === null) {
      invalidOption('telemeter: options must be an object with a metrics array');
    }
    checkOptionKeys('telemeter: new Telemeter', config, TELEMETER_OPTIONS);
    const { maxSeries = DEFAULT_MAX_SERIES, selfMetrics = true } = config;
    if (!Array.isArray(config.metrics)) {
      invalidOption('telemeter: option metrics must be an array of metric definitions');
    }
    if (typeof selfMetrics !== 'boolean') {
      invalidOption(`telemeter: option selfMetrics must be a boolean, got ${describe(selfMetrics)}`);
    }
    // One definition object listed twice (two integrations that share a family) is one metric.
    const given = [...new Set(config.metrics)];
    const metrics = selfMetrics ? [...given, ...scrapeDefinitions()] : given;
    if (!(Number.isInteger(maxSeries) && maxSeries >= 1)) {
      invalidOption(`telemeter: option maxSeries must be an integer >= 1, got ${describe(maxSeries)}`);
    }
    this.logger = new LogSink(
      config.logger === undefined ? undefined : checkLogger(config.logger, 'option logger'),
    );
    const globalTags = validateGlobalTags(config.globalTags);
    const render = (tags: readonly string[]) => labelRenderer(tags, globalTags);

    const owners = new Map<string, string>();
    const claim = (
      family: { name: string; kind: FamilyKind },
      owner: string,
      definition?: MetricDefinition,
    ) => {
      for (const sampleName of sampleNames(family.name, family.kind)) {
        const previous = owners.get(sampleName);
        if (previous !== undefined) {
          throw new TelemeterTypeError(
            'ERR_TELEMETER_DUPLICATE_NAME',
            `telemeter: ${owner} exports the name "${sampleName}", which ${previous} also exports. ` +
              `Give one of them another name, and keep its event with eventName and measurement, e.g. ` +
              (definition
                ? suggestRename(definition)
                : "counter('my.event.count', { eventName: 'my.event', measurement: 'duration' })"),
          );
        }
        owners.set(sampleName, owner);
      }
    };
    if (selfMetrics) {
      for (const name of RESERVED_SELF_NAMES) {
        claim(
          { name, kind: name.endsWith('_total') ? 'counter' : 'gauge' },
          `telemeter's own metric "${name}"`,
        );
      }
    }

    const byEvent = new Map<string, MetricRecorder[]>();
    metrics.forEach((definition, index) => {
      if (typeof definition !== 'object' || definition === null || typeof definition.type !== 'string') {
        invalidOption(
          `telemeter: option metrics[${index}] is not a metric definition; build it with counter(), sum(), lastValue(), summary() or distribution()`,
        );
      }
      const family = this.buildFamily(definition, maxSeries, render);
      claim(family, `metric "${definition.name}" (${definition.type})`, definition);
      this.userFamilies.push(family);
      const recorder = new MetricRecorder(definition, family);
      this.recorders.push(recorder);
      const list = byEvent.get(definition.eventName) ?? [];
      list.push(recorder);
      byEvent.set(definition.eventName, list);
      family.table.onOverflow = () => this.noteOverflow(definition);
    });

    this.droppedFamily = selfFamily(
      'telemeter_dropped_events_total',
      'counter',
      'Events that a metric skipped instead of recording, by metric and reason.',
      ['metric', 'reason'],
      render,
    );
    this.overflowFamily = selfFamily(
      'telemeter_series_overflow_total',
      'counter',
      "Events recorded into a metric's overflow series because it had reached maxSeries.",
      ['metric'],
      render,
    );
    this.seriesFamily = selfFamily(
      'telemeter_series',
      'gauge',
      'Series held in memory, by metric.',
      ['metric'],
      render,
    );
    const families = selfMetrics
      ? [...this.userFamilies, this.droppedFamily, this.overflowFamily, this.seriesFamily]
      : [...this.userFamilies];
    storage.set(this, families);
    this.metricFamilies = Object.freeze([...families]);

    const instance = ++instanceSequence;
    for (const [eventName, recorders] of byEvent) {
      const id = `telemeter:${instance}:${eventName}`;
      attach(id, eventName, this.handlerFor(eventName, recorders));
      this.handlerIds.push(id);
    }
  }

  /**
   * A handle on one series of `metric` (a definition given to this reporter, or its name) with the given tags,
   * resolved now so each `record` is a store update with no lookup. Use it at call sites too hot for `execute`.
   * Tags are read like event metadata (after the definition's `tagValues`); `keep` is not applied.
   *
   * @throws when the metric is not defined here or a tag is missing or invalid.
   */
  bind(metric: MetricDefinition | string, tags: Metadata = {}): SeriesHandle {
    const name = typeof metric === 'string' ? metric : metric.name;
    const recorder = this.recorders.find((r) => r.definition === metric || r.definition.name === name);
    if (recorder === undefined) {
      throw new TelemeterTypeError(
        'ERR_TELEMETER_UNKNOWN_METRIC',
        `telemeter: bind: metric "${name}" is not defined in this Telemeter`,
      );
    }
    const { definition, family } = recorder;
    const source = definition.tagValues === undefined ? tags : definition.tagValues(tags);
    const series = family.table.resolve(source);
    if (series < 0) {
      throw new TelemeterTypeError(
        'ERR_TELEMETER_INVALID_TAGS',
        `telemeter: bind: metric "${name}" needs tags ${definition.tags.join(', ')} as strings, numbers or booleans; got ${JSON.stringify(tags)}`,
      );
    }
    family.table.pin(series);
    return new BoundSeries(family, series, definition.unitRatio, (reason) => this.noteDrop(recorder, reason));
  }

  /** Detaches every handler this reporter attached and stops its timers. Recorded values stay readable. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const id of this.handlerIds) {
      try {
        detach(id);
      } catch {
        // Already detached by hand; close() must still release everything else.
      }
    }
    for (const timer of this.timers) clearInterval(timer);
  }

  /** Runs `work` every `ms` for as long as this reporter is open, without keeping the process alive. */
  private every(ms: number, work: () => void): void {
    const timer = setInterval(work, ms);
    // Only Node's timers (and Bun's and Deno's) can be unreferenced; a browser's interval is a number.
    (timer as { unref?: () => void }).unref?.();
    this.timers.push(timer);
  }

  /**
   * The families with their storage.
   *
   * @deprecated Read {@link metricFamilies} instead, which every exporter of telemeter now reads; `families` exposes
   * the tables and stores behind it, whose shape changes without notice. Removed in 0.3.
   */
  get families(): readonly StoredFamily[] {
    warnDeprecated('TELEMETER_DEP0005', 'Telemeter.families', 'Telemeter.metricFamilies', 'telemeter 0.3');
    return storedFamilies(this);
  }

  /**
   * Refreshes values that are computed rather than recorded: gauges that instrumentation reports on read
   * (requests in flight, connection pools; see events/collectors.ts), then series counts (`telemeter_series`).
   * `render` and `scrape` call it; so should any other reader of {@link metricFamilies} that exports them.
   */
  refreshComputedFamilies(): void {
    runCollectors();
    if (!this.closed) for (const sweep of this.clockedSweeps) sweep.catchUp();
    for (const family of this.userFamilies) {
      if (family.definition === undefined) continue;
      const series = this.seriesFamily.table.resolveValues([family.definition.name]);
      this.seriesFamily.store.values[series] = family.table.live;
    }
  }

  /**
   * The handler of one event, generated so that it calls each recorder's `record` through a constant of its own:
   * each call site then sees one target and V8 inlines the recorder into the handler. A shared handler looping
   * over `recorder.record` made one call site for every metric of every event, which V8 cannot inline.
   *
   * The handler never throws: the bus would detach it, and every later event of that name would count nothing.
   * A record function does not throw either; the `catch` is for telemeter's own bugs, counted as `internal_error`.
   */
  private handlerFor(eventName: string, recorders: MetricRecorder[]): EventHandler {
    const noteDrop = (index: number, reason: number, error?: unknown) =>
      this.noteDrop(recorders[index], reason, error);
    const calls = recorders
      .map(
        (_, i) => `
        try { reason = record${i}(measurements, metadata); }
        catch (error) { reason = ${DropReason.ok}; noteDrop(${i}, ${DropReason.internalError}, error); }
        if (reason !== ${DropReason.ok}) noteDrop(${i}, reason);`,
      )
      .join('');
    const body = `
      return function handle(_eventName, measurements, metadata) {
        ${sourceTag(`handler ${eventName}`)}
        if (typeof measurements !== 'object' || measurements === null) {
          for (let i = 0; i < ${recorders.length}; i++) noteDrop(i, ${DropReason.invalidMeasurement});
          return;
        }
        let reason;
        ${calls}
      };`;
    const records = recorders.map((r) => r.record);
    const generated = generate<EventHandler>(['noteDrop', ...records.map((_, i) => `record${i}`)], body, [
      noteDrop,
      ...records,
    ]);
    return generated ?? plainHandler(records, noteDrop);
  }

  /** Counts a skipped event, and logs the first of each metric and reason. Never throws, like the handler. */
  private noteDrop(recorder: MetricRecorder, reason: number, error?: unknown): void {
    try {
      let series = recorder.droppedSeries[reason];
      if (series < 0) {
        const name = recorder.definition.name;
        series = this.droppedFamily.table.resolveValues([name, DROP_REASON_LABELS[reason]]);
        recorder.droppedSeries[reason] = series;
        // A user function's error is left by the record function; an internal error comes with the call.
        const cause = THROWN_BY_USER_FUNCTION.has(reason) ? recorder.thrown.error : error;
        this.logger.warnOnce(
          `drop:${name}:${reason}`,
          cause === undefined ? { metric: name } : { metric: name, err: cause },
          `metric "${name}" skipped an event (${DROP_REASON_LABELS[reason]}: ${DROP_REASON_HINTS[reason]}); further ones are counted in telemeter_dropped_events_total`,
        );
      }
      this.droppedFamily.store.values[series] += 1;
    } catch {
      // Counting a drop failed (memory, most likely): the event is lost either way, and the caller must not see it.
    }
  }

  private noteOverflow(definition: MetricDefinition): void {
    this.logger.warnOnce(
      `overflow:${definition.name}`,
      {},
      `metric "${definition.name}" reached its maxSeries limit; new tag sets are folded into one series with every tag set to "__overflow__"`,
    );
    const series = this.overflowFamily.table.resolveValues([definition.name]);
    this.overflowFamily.store.values[series] += 1;
  }

  private buildFamily(
    definition: MetricDefinition,
    defaultMaxSeries: number,
    render: (tags: readonly string[]) => (values: readonly string[]) => string,
  ): StoredFamily {
    const fail = (option: string, why: string): never => {
      invalidOption(`telemeter: metric "${definition.name}": option ${option} ${why}`);
    };
    const name = prometheusName(definition.name);
    for (const tag of definition.tags) {
      if (!isValidLabelName(tag)) {
        fail(
          'tags',
          `has "${tag}", which is not a valid Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, no __ prefix)`,
        );
      }
      if (tag === 'le' && definition.type === 'distribution')
        fail('tags', 'cannot use "le" on a distribution');
      if (tag === 'quantile' && definition.type === 'summary')
        fail('tags', 'cannot use "quantile" on a summary');
    }
    const options = definition.reporterOptions;
    const maxSeries = options.maxSeries ?? defaultMaxSeries;
    const table = new SeriesTable(definition.tags, render(definition.tags), maxSeries);
    const suffix = unitSuffix(definition.unit);
    if (options.idleTimeout !== undefined) {
      // Two sweeps per timeout: a series expires after between one and one and a half timeouts of silence.
      const sweep = () => table.expire(2);
      if (this.byClock) this.clockedSweeps.push(new PeriodicTask(options.idleTimeout / 2, sweep));
      else this.every(options.idleTimeout / 2, sweep);
    }
    const help = definition.description ?? defaultHelp(definition);

    switch (definition.type) {
      case 'counter':
      case 'sum':
      case 'last_value': {
        const kind: 'counter' | 'gauge' =
          definition.type === 'last_value' ? 'gauge' : (options.prometheusType ?? 'counter');
        const store = new ScalarStore(definition.type === 'last_value' ? 'set' : 'add');
        growing(table, store);
        if (kind === 'gauge') {
          return new StoredScalarFamily(name, help, unitFor(name, suffix), table, definition, kind, store);
        }
        const exported = counterSeriesName(name);
        const unit = unitFor(counterFamilyName(exported), suffix);
        return new StoredScalarFamily(exported, help, unit, table, definition, kind, store);
      }
      case 'distribution': {
        const layout = options.histogram ?? 'classic';
        // A native-only distribution keeps no classic bounds: its one classic bucket, +Inf, holds the count.
        const bounds =
          layout === 'native' ? [] : resolveBuckets(options.buckets, definition.unit, definition.name);
        const native =
          layout === 'classic'
            ? undefined
            : new NativeHistogramStore(options.nativeHistogram ?? {}, definition.name);
        const store = new HistogramStore(Float64Array.from(bounds), native);
        growing(table, store);
        return new StoredHistogramFamily(name, help, unitFor(name, suffix), table, definition, store);
      }
      case 'summary': {
        const quantiles = [...(options.quantiles ?? DEFAULT_QUANTILES)].sort((a, b) => a - b);
        const accuracy = options.relativeAccuracy ?? 0.01;
        const ageBuckets = options.ageBuckets ?? 5;
        const slotMs = ((options.maxAgeSeconds ?? 600) * 1000) / ageBuckets;
        const store = this.byClock
          ? new ClockedSummaryStore(quantiles, accuracy, ageBuckets, slotMs)
          : new SummaryStore(quantiles, accuracy, ageBuckets);
        growing(table, store);
        if (!this.byClock) this.every(slotMs, () => store.rotate());
        return new StoredSummaryFamily(name, help, unitFor(name, suffix), table, definition, store);
      }
      default:
        return fail('type', `"${(definition as MetricDefinition).type}" is not a metric type`);
    }
  }
}

/** Wires a table to its store so every new series gets storage. */
function growing(
  table: SeriesTable,
  store: { grow(series: number): void; reset(series: number): void },
): void {
  table.onGrow = (size) => store.grow(size);
  table.onReset = (series) => store.reset(series);
  store.grow(table.size);
}

/** A family of telemeter's own, written directly rather than through events. */
function selfFamily(
  name: string,
  kind: 'counter' | 'gauge',
  help: string,
  tags: string[],
  render: (tags: readonly string[]) => (values: readonly string[]) => string,
): StoredScalarFamily {
  const table = new SeriesTable(tags, render(tags), Number.MAX_SAFE_INTEGER);
  const store = new ScalarStore(kind === 'counter' ? 'add' : 'set');
  growing(table, store);
  return new StoredScalarFamily(name, help, undefined, table, undefined, kind, store);
}

function unitFor(familyName: string, suffix: string | undefined): string | undefined {
  return suffix !== undefined && familyName.endsWith(`_${suffix}`) ? suffix : undefined;
}

function defaultHelp(definition: MetricDefinition): string {
  const measured = typeof definition.measurement === 'string' ? definition.measurement : 'measurement';
  const unit = definition.unit === 'unit' ? '' : ` (${definition.unit})`;
  switch (definition.type) {
    case 'counter':
      return `Number of ${definition.eventName} events.`;
    case 'sum':
      return `Sum of ${definition.eventName} ${measured}${unit}.`;
    case 'last_value':
      return `Last value of ${definition.eventName} ${measured}${unit}.`;
    case 'summary':
      return `Summary of ${definition.eventName} ${measured}${unit}.`;
    default:
      return `Distribution of ${definition.eventName} ${measured}${unit}.`;
  }
}

const CONSTRUCTORS = {
  counter: 'counter',
  sum: 'sum',
  last_value: 'lastValue',
  summary: 'summary',
  distribution: 'distribution',
} as const;

/** The same definition under a free name, written as the call that makes it, for the duplicate-name error. */
function suggestRename(definition: MetricDefinition): string {
  const measurement = typeof definition.measurement === 'string' ? definition.measurement : 'value';
  const name =
    definition.type === 'counter'
      ? `${definition.eventName}.count`
      : `${definition.eventName}.${measurement}_${CONSTRUCTORS[definition.type].toLowerCase()}`;
  return `${CONSTRUCTORS[definition.type]}('${name}', { eventName: '${definition.eventName}', measurement: '${measurement}' })`;
}

function validateGlobalTags(tags: ReporterConfig['globalTags']): Record<string, string> {
  if (tags === undefined) return {};
  if (typeof tags !== 'object' || tags === null || Array.isArray(tags)) {
    invalidOption('telemeter: option globalTags must be an object of label names to values');
  }
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(tags)) {
    if (!isValidLabelName(name)) {
      invalidOption(
        `telemeter: option globalTags has "${name}", which is not a valid Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, no __ prefix)`,
      );
    }
    if (name === 'le' || name === 'quantile') {
      // Every histogram (built-in ones too) or summary would carry the label twice, and scrapers refuse that.
      invalidOption(
        `telemeter: option globalTags has "${name}", which histograms (le) and summaries (quantile) reserve for their buckets and quantiles`,
      );
    }
    if (!['string', 'number', 'boolean'].includes(typeof value)) {
      invalidOption(
        `telemeter: option globalTags.${name} must be a string, number or boolean, got ${describe(value)}`,
      );
    }
    result[name] = String(value).toWellFormed();
  }
  return result;
}

/** The handler of {@link Reporter.handlerFor} as a loop, for runtimes that refuse code generation. */
function plainHandler(
  records: readonly RecordFunction[],
  noteDrop: (index: number, reason: number, error?: unknown) => void,
): EventHandler {
  return (_eventName, measurements, metadata) => {
    if (typeof measurements !== 'object' || measurements === null) {
      for (let i = 0; i < records.length; i++) noteDrop(i, DropReason.invalidMeasurement);
      return;
    }
    for (let i = 0; i < records.length; i++) {
      let reason: number;
      try {
        reason = records[i](measurements, metadata);
      } catch (error) {
        reason = DropReason.ok;
        noteDrop(i, DropReason.internalError, error);
      }
      if (reason !== DropReason.ok) noteDrop(i, reason);
    }
  };
}
