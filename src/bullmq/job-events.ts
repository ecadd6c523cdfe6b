/**
 * The events of `telemeter/bullmq`, in telemeter's span conventions: a job's attempt is a span from the moment
 * a worker takes it (`.start`) to the moment it settles (`.stop`, preceded by `.exception` when it failed), and
 * the queue poller reports each queue's depth by state.
 */

import { invalidOption } from '../errors.js';

/** Default event prefix: `bullmq.job.start|stop|exception|stalled` and `bullmq.queue.jobs`. */
export const BULLMQ_EVENT_PREFIX = 'bullmq';

/** The event names under one prefix. */
export interface BullmqEventNames {
  /** A worker took a job (an attempt starts). */
  readonly start: string;
  /** An attempt settled: `outcome` is `completed`, `retried` or `failed`. */
  readonly stop: string;
  /** An attempt failed; emitted just before its `.stop`. */
  readonly exception: string;
  /** A worker found a job whose lock had expired and moved it back to wait. */
  readonly stalled: string;
  /** One queue's job count in one state, per poll. */
  readonly queueJobs: string;
}

/** The event names under `prefix`. */
export function bullmqEventNames(prefix: string = BULLMQ_EVENT_PREFIX): BullmqEventNames {
  return Object.freeze({
    start: `${prefix}.job.start`,
    stop: `${prefix}.job.stop`,
    exception: `${prefix}.job.exception`,
    stalled: `${prefix}.job.stalled`,
    queueJobs: `${prefix}.queue.jobs`,
  });
}

const EVENT_PREFIX = /^[^.]+(\.[^.]+)*$/;

/**
 * The `eventPrefix` option of `instrumentBullmq` or `bullmqMetrics`, the default when not given.
 *
 * @throws TelemeterTypeError `ERR_TELEMETER_INVALID_OPTION` unless it is a dotted event name.
 */
export function eventPrefixOption(where: string, value: unknown): string {
  const prefix = value ?? BULLMQ_EVENT_PREFIX;
  if (typeof prefix !== 'string' || !EVENT_PREFIX.test(prefix)) {
    invalidOption(
      `${where}: option eventPrefix must be a dotted event name such as "${BULLMQ_EVENT_PREFIX}", got ${JSON.stringify(prefix)}`,
    );
  }
  return prefix;
}

/** How an attempt ended. */
export type BullmqJobOutcome = 'completed' | 'retried' | 'failed';

/**
 * Metadata of the start, stop and exception events. Every tag key is always present and a string, so no
 * metric drops an event for a missing tag. None of them holds job data, a job id or an error message.
 */
export interface BullmqJobMetadata {
  /** `bullmq`: OpenTelemetry's `messaging.system`. */
  readonly messaging_system: 'bullmq';
  /** `process`: OpenTelemetry's `messaging.operation.name` for a consumer handling a message. */
  readonly messaging_operation_name: 'process';
  /** The queue's name: OpenTelemetry's `messaging.destination.name`. */
  readonly messaging_destination_name: string;
  /** The queue's name again, under the label BullMQ's own metrics use. */
  readonly queue: string;
  /**
   * The job's name, as given to `queue.add(name, data)`. Applications choose it, usually from a small set
   * (`send-email`, `resize-image`); one that puts ids in job names makes one series per id.
   */
  readonly name: string;
  /** Which attempt this is, from 1 (`job.attemptsStarted`). */
  readonly attempt: number;
  /** Stop only: how the attempt ended. */
  readonly outcome?: BullmqJobOutcome;
  /** Stop and exception: `''` on success, else the error's `name` (`Error`, `UnrecoverableError`, …). */
  readonly error_type?: string;
  /** The BullMQ job object (not for tags: its id and data are unbounded). */
  readonly job?: unknown;
}

/** Metadata of the stalled event: the worker only knows the job's id then, so the queue is the only tag. */
export interface BullmqStalledMetadata {
  readonly queue: string;
  readonly messaging_system: 'bullmq';
  readonly messaging_destination_name: string;
  /** The stalled job's id (not for tags). */
  readonly job_id: string;
}

/** Metadata of the queue depth event. */
export interface BullmqQueueJobsMetadata {
  readonly queue: string;
  /** `waiting`, `active`, `delayed`, `prioritized`, `waiting-children`, `completed` or `failed`. */
  readonly state: string;
}

/**
 * The states every poll reports, zero-filled, so a state that empties reads 0 instead of vanishing: the
 * `JobState`s of bullmq 6, which are what `Queue.getJobCounts()` counts without arguments. (A paused queue
 * keeps its jobs in `waiting` since bullmq 5.)
 */
export const BULLMQ_JOB_STATES: readonly string[] = Object.freeze([
  'waiting',
  'active',
  'delayed',
  'prioritized',
  'waiting-children',
  'completed',
  'failed',
]);
