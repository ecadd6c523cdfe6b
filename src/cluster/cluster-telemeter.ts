import { TelemeterTypeError } from '../errors.js';
import { describe } from '../events/event-name.js';
import type { Metadata } from '../events/types.js';
import { distribution, lastValue, type MetricDefinition, sum } from '../metrics/definitions.js';
import { isValidLabelName } from '../metrics/names.js';
import { checkOptionKeys } from '../options.js';
import { TELEMETER_OPTIONS, Telemeter, type TelemeterOptions } from '../telemeter.js';
import { GAUGE_AGGREGATIONS, type GaugeAggregation } from './gauge-merge.js';

/** Options of {@link clusterTelemeter}: the workers' Telemeter options, plus how gauges merge. */
export interface ClusterTelemeterOptions extends TelemeterOptions {
  /**
   * How the workers' last values become one gauge: `'worker'` (default) keeps one series per worker with a
   * `worker` label; `'sum'`, `'max'`, `'min'` combine the live workers; `'last'` keeps the latest received.
   */
  readonly gaugeAggregation?: GaugeAggregation;
  /** Name of the label that tells workers apart under `gaugeAggregation: 'worker'`. Default `'worker'`. */
  readonly workerLabel?: string;
}

/** The aggregation settings a primary Telemeter was built with, read by `startClusterPrimary`. */
export interface ClusterShape {
  readonly gaugeAggregation: GaugeAggregation;
  readonly workerLabel: string;
  /** Tag of this primary's collect events (metadata `aggregator`), so two primaries in one process never count each other's. */
  readonly collectId: number;
}

/** The label value of what the primary records itself under `gaugeAggregation: 'worker'`. */
export const PRIMARY_WORKER_LABEL = 'primary';

/** The event an aggregator emits after each `collect()`; its own metrics are defined over it. */
export const COLLECT_STOP_EVENT = 'telemeter.cluster.collect.stop';

const shapes = new WeakMap<Telemeter, ClusterShape>();
/** The Telemeter's options and the cluster's own: a typo is named here, with the closest of all of them. */
const KNOWN_KEYS = [...TELEMETER_OPTIONS, 'gaugeAggregation', 'workerLabel'];
let sequence = 0;

/**
 * The primary's Telemeter for a cluster: give it the same metric definitions as the workers. Under the
 * default `gaugeAggregation: 'worker'`, every `lastValue` gets one more tag, `worker`, so each worker's value
 * is its own series (the primary's own values carry `worker="primary"`). Unless `selfMetrics: false`, it
 * also defines `telemeter_cluster_workers`, `telemeter_cluster_flush_timeouts_total` and
 * `telemeter_cluster_collect_duration_seconds`.
 *
 * Workers build a plain `new Telemeter(options)` with the same options.
 *
 * @throws TelemeterTypeError `ERR_TELEMETER_UNKNOWN_OPTION` naming the closest valid key, or
 *   `ERR_TELEMETER_INVALID_OPTION` naming the option, when an option is invalid or the worker label is already a
 *   tag; and whatever `new Telemeter(options)` throws.
 */
export function clusterTelemeter(options: ClusterTelemeterOptions): Telemeter {
  checkOptionKeys('telemeter/cluster: clusterTelemeter', options, KNOWN_KEYS);
  const { gaugeAggregation = 'worker', workerLabel = 'worker', ...config } = options;
  if (!GAUGE_AGGREGATIONS.includes(gaugeAggregation)) {
    throw new TelemeterTypeError(
      'ERR_TELEMETER_INVALID_OPTION',
      `telemeter/cluster: clusterTelemeter: option gaugeAggregation must be one of ${GAUGE_AGGREGATIONS.map((a) => `'${a}'`).join(', ')}, got ${describe(gaugeAggregation)}`,
    );
  }
  if (typeof workerLabel !== 'string' || !isValidLabelName(workerLabel)) {
    throw new TelemeterTypeError(
      'ERR_TELEMETER_INVALID_OPTION',
      `telemeter/cluster: clusterTelemeter: option workerLabel must be a valid label name ([a-zA-Z_][a-zA-Z0-9_]*, no __ prefix), got ${describe(workerLabel)}`,
    );
  }
  if (!Array.isArray(config.metrics)) {
    throw new TelemeterTypeError(
      'ERR_TELEMETER_INVALID_OPTION',
      'telemeter/cluster: clusterTelemeter: option metrics must be an array of metric definitions',
    );
  }
  let metrics: MetricDefinition[] = [...config.metrics];
  if (gaugeAggregation === 'worker') {
    if (
      typeof config.globalTags === 'object' &&
      config.globalTags !== null &&
      workerLabel in config.globalTags
    ) {
      throw new TelemeterTypeError(
        'ERR_TELEMETER_INVALID_OPTION',
        `telemeter/cluster: clusterTelemeter: option workerLabel "${workerLabel}" is also a key of globalTags; choose another workerLabel`,
      );
    }
    metrics = metrics.map((definition) => withWorkerTag(definition, workerLabel));
  }
  const collectId = ++sequence;
  if (config.selfMetrics !== false) metrics.push(...collectDefinitions(collectId));
  const telemeter = new Telemeter({ ...config, metrics });
  shapes.set(telemeter, Object.freeze({ gaugeAggregation, workerLabel, collectId }));
  return telemeter;
}

/** The cluster settings of a Telemeter made by {@link clusterTelemeter}; undefined for any other. */
export function clusterShapeOf(telemeter: Telemeter): ClusterShape | undefined {
  return shapes.get(telemeter);
}

function withWorkerTag(definition: MetricDefinition, label: string): MetricDefinition {
  if (typeof definition !== 'object' || definition === null || definition.type !== 'last_value') {
    return definition;
  }
  if (definition.tags.includes(label)) {
    throw new TelemeterTypeError(
      'ERR_TELEMETER_INVALID_OPTION',
      `telemeter/cluster: clusterTelemeter: metric "${definition.name}" already has a tag "${label}", which gaugeAggregation 'worker' adds; set option workerLabel to another name`,
    );
  }
  const mapTags = definition.tagValues;
  return Object.freeze({
    ...definition,
    tags: Object.freeze([...definition.tags, label]),
    tagValues: (metadata: Metadata) => ({
      ...(mapTags === undefined ? metadata : mapTags(metadata)),
      [label]: PRIMARY_WORKER_LABEL,
    }),
  });
}

function collectDefinitions(id: number): MetricDefinition[] {
  const keep = (metadata: Metadata) => metadata.aggregator === id;
  return [
    lastValue('telemeter.cluster.workers', {
      eventName: COLLECT_STOP_EVENT,
      measurement: 'workers',
      keep,
      description: 'Workers connected to the cluster aggregator.',
    }),
    sum('telemeter.cluster.flush_timeouts_total', {
      eventName: COLLECT_STOP_EVENT,
      measurement: 'timeouts',
      keep,
      description:
        'Workers that did not answer a scrape-time flush within timeoutMs; their data was one period stale.',
    }),
    distribution('telemeter.cluster.collect_duration_seconds', {
      eventName: COLLECT_STOP_EVENT,
      measurement: 'duration',
      unit: ['native', 'second'],
      keep,
      description: 'Time from asking the workers to flush to having applied their answers.',
      reporterOptions: { buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] },
    }),
  ];
}
