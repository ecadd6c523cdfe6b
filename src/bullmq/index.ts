/**
 * telemeter/bullmq: events and metrics for BullMQ workers and queues, the Node.js counterpart of PromEx's Oban
 * plugin. It listens to the `Worker`s and polls the `Queue`s it is given, never imports bullmq at runtime and
 * patches nothing.
 *
 * @packageDocumentation
 */
export {
  type BullmqInstrumentation,
  type BullmqInstrumentationOptions,
  type BullmqQueueLike,
  type BullmqWorkerLike,
  instrumentBullmq,
} from './instrument.js';
export {
  BULLMQ_EVENT_PREFIX,
  BULLMQ_JOB_STATES,
  type BullmqEventNames,
  type BullmqJobMetadata,
  type BullmqJobOutcome,
  type BullmqQueueJobsMetadata,
  type BullmqStalledMetadata,
  bullmqEventNames,
} from './job-events.js';
export {
  BULLMQ_WAIT_BUCKETS,
  type BullmqMetricsOptions,
  bullmqMetrics,
  MESSAGING_DURATION_BUCKETS,
} from './job-metrics.js';
