import {
  type BucketSpec,
  counter,
  distribution,
  lastValue,
  type MetricDefinition,
} from '../metrics/index.js';
import { checkOptionKeys } from '../options.js';
import { bullmqEventNames, eventPrefixOption } from './job-events.js';

/** OpenTelemetry's advisory buckets for `messaging.process.duration`, in seconds. */
export const MESSAGING_DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
]);

/**
 * Wait-time buckets, in seconds: from a worker that is keeping up (milliseconds) to a backlog of an hour.
 * Oban's PromEx plugin stops at 20 s, too short for the queues that batch jobs for minutes.
 */
export const BULLMQ_WAIT_BUCKETS: readonly number[] = Object.freeze([
  0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600,
]);

/** Options of {@link bullmqMetrics}. */
export interface BullmqMetricsOptions {
  /** The `eventPrefix` given to `instrumentBullmq`, default `bullmq`. */
  readonly eventPrefix?: string;
  /** Processing-time buckets, in seconds. Default {@link MESSAGING_DURATION_BUCKETS}. */
  readonly durationBuckets?: BucketSpec;
  /** Wait-time buckets, in seconds. Default {@link BULLMQ_WAIT_BUCKETS}. */
  readonly waitBuckets?: BucketSpec;
  /** Series limit of each metric (see `reporterOptions.maxSeries`). Default: the Telemeter's. */
  readonly maxSeries?: number;
}

const KNOWN_OPTIONS = new Set(['eventPrefix', 'durationBuckets', 'waitBuckets', 'maxSeries']);
const MESSAGING_TAGS = [
  'messaging_system',
  'messaging_destination_name',
  'messaging_operation_name',
] as const;

/**
 * The metrics over {@link instrumentBullmq}'s events, named after OpenTelemetry's messaging conventions where
 * they have a name, and `bullmq_*` where they have none:
 *
 * - `messaging_process_duration_seconds{messaging_system, messaging_destination_name, messaging_operation_name,
 *   error_type}`: histogram of processing time per attempt (OpenTelemetry buckets);
 * - `messaging_client_consumed_messages_total{messaging_system, messaging_destination_name,
 *   messaging_operation_name}`: jobs workers took (each attempt counts);
 * - `bullmq_jobs_total{queue, name, outcome}`: attempts settled, `completed`, `retried` or `failed` (final);
 * - `bullmq_job_wait_time_seconds{queue, name}`: histogram of the wait of first attempts for a worker;
 * - `bullmq_stalled_jobs_total{queue}`: jobs found stalled (lock expired) and moved back to wait;
 * - `bullmq_queue_jobs{queue, state}`: jobs in each state, polled.
 *
 * ```ts
 * import { bullmqMetrics } from 'telemeter/bullmq';
 *
 * console.log(bullmqMetrics().map((metric) => metric.name).join('\n'));
 * //=> messaging_process_duration_seconds
 * //=> bullmq_queue_jobs
 * ```
 *
 * @throws TelemeterTypeError for an option, naming it: `ERR_TELEMETER_UNKNOWN_OPTION` (with the closest valid
 * key) or `ERR_TELEMETER_INVALID_OPTION`.
 */
export function bullmqMetrics(options: BullmqMetricsOptions = {}): MetricDefinition[] {
  const where = 'telemeter/bullmq: bullmqMetrics';
  checkOptionKeys(where, options, KNOWN_OPTIONS);
  const names = bullmqEventNames(eventPrefixOption(where, options.eventPrefix));
  const limit = options.maxSeries === undefined ? {} : { maxSeries: options.maxSeries };
  return [
    distribution('messaging_process_duration_seconds', {
      eventName: names.stop,
      measurement: 'duration',
      unit: ['native', 'second'],
      tags: [...MESSAGING_TAGS, 'error_type'],
      description: 'Time a worker spent processing one attempt of a BullMQ job, by queue and error type.',
      reporterOptions: { buckets: options.durationBuckets ?? MESSAGING_DURATION_BUCKETS, ...limit },
    }),
    counter('messaging_client_consumed_messages_total', {
      eventName: names.start,
      measurement: 'monotonic_time',
      tags: MESSAGING_TAGS,
      description: 'BullMQ jobs that workers of this process took, each attempt counted, by queue.',
      reporterOptions: limit,
    }),
    counter('bullmq_jobs_total', {
      eventName: names.stop,
      measurement: 'duration',
      tags: ['queue', 'name', 'outcome'],
      description:
        'BullMQ job attempts settled, by queue, job name and outcome: completed, retried (failed, tried again) or failed (for good).',
      reporterOptions: limit,
    }),
    distribution('bullmq_job_wait_time_seconds', {
      eventName: names.start,
      measurement: 'wait_time',
      unit: ['native', 'second'],
      tags: ['queue', 'name'],
      keep: (_metadata, measurements) => typeof measurements.wait_time === 'number',
      description:
        'Time a BullMQ job waited for a worker once it could run (first attempts), by queue and job name.',
      reporterOptions: { buckets: options.waitBuckets ?? BULLMQ_WAIT_BUCKETS, ...limit },
    }),
    counter('bullmq_stalled_jobs_total', {
      eventName: names.stalled,
      measurement: 'count',
      tags: ['queue'],
      description:
        'BullMQ jobs found stalled (their worker stopped renewing the lock) and moved back to wait, by queue.',
      reporterOptions: limit,
    }),
    lastValue('bullmq_queue_jobs', {
      eventName: names.queueJobs,
      measurement: 'count',
      tags: ['queue', 'state'],
      description: 'BullMQ jobs in each state, by queue, read with getJobCounts() at every poll.',
      reporterOptions: limit,
    }),
  ];
}
