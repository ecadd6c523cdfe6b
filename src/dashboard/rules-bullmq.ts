import { type ExportedMetric, findMetric } from './exported-metrics.js';
import { selector, sumBy } from './promql.js';
import type { AlertRule } from './rules.js';

/** Share of jobs failing for good (after all their attempts) that fires `BullmqJobFailureRatioHigh`. */
const JOB_FAILURE_RATIO = 0.05;
// A queue's depth is read by every process that polls it, so the rules take the highest reading of a queue
// rather than adding up copies of one number.
const QUEUE = ['job', 'queue'];
// Backlog growth is judged over 15 minutes: jobs arrive in bursts, and a queue that empties once in that time
// is keeping up.
const BACKLOG_WINDOW = '15m';

/**
 * The BullMQ alerts, over `bullmqMetrics()`: each is left out when its metric is not among the definitions.
 *
 * - `BullmqJobFailureRatioHigh`: over 5% of the jobs of a queue fail for good (retried attempts do not count);
 * - `BullmqJobsStalling`: workers keep finding stalled jobs, for 10 minutes;
 * - `BullmqBacklogGrowing`: the waiting jobs of a queue grow for 15 minutes without the queue ever draining.
 */
export function bullmqAlertRules(metrics: readonly ExportedMetric[], job: readonly string[]): AlertRule[] {
  const rules: AlertRule[] = [];
  const where = 'queue {{ $labels.queue }} of job {{ $labels.job }}';

  const jobs = findMetric(metrics, 'bullmq_jobs', 'counter');
  if (jobs?.tags.includes('outcome')) {
    const failed = sumBy(QUEUE, `rate(${selector(jobs.series, [...job, 'outcome="failed"'])}[5m])`);
    const finished = sumBy(
      QUEUE,
      `rate(${selector(jobs.series, [...job, 'outcome=~"completed|failed"'])}[5m])`,
    );
    rules.push({
      alert: 'BullmqJobFailureRatioHigh',
      expr: `${failed} / ${finished} > ${JOB_FAILURE_RATIO}`,
      for: '10m',
      labels: { severity: 'warning' },
      annotations: {
        summary: `{{ $value | humanizePercentage }} of the BullMQ jobs of ${where} fail`,
        description: `{{ $value | humanizePercentage }} of the BullMQ jobs of ${where} that finished in the last 5 minutes failed for good, after all their attempts, and more than ${JOB_FAILURE_RATIO * 100}% for 10 minutes: their work is not done, and they stay in the failed set until someone retries them. Attempts that BullMQ retries do not count.`,
      },
    });
  }

  const stalled = findMetric(metrics, 'bullmq_stalled_jobs', 'counter');
  if (stalled !== undefined) {
    rules.push({
      alert: 'BullmqJobsStalling',
      expr: `${sumBy(QUEUE, `increase(${selector(stalled.series, job)}[5m])`)} > 0`,
      for: '10m',
      labels: { severity: 'warning' },
      annotations: {
        summary: `BullMQ jobs of ${where} keep stalling`,
        description: `Workers found {{ printf "%.0f" $value }} stalled jobs in ${where} in the last 5 minutes, and have kept finding them for 10 minutes. A job stalls when its worker stops renewing its lock: the process died, or its event loop was blocked for longer than lockDuration (CPU-bound work in the processor). The job then runs again, or fails once it has stalled more than maxStalledCount times. One stall, such as a deploy killing a busy worker, does not fire.`,
      },
    });
  }

  const depth = findMetric(metrics, 'bullmq_queue_jobs', 'gauge');
  if (depth?.tags.includes('state')) {
    const waiting = selector(depth.series, [...job, 'state="waiting"']);
    const growth = `max by (${QUEUE.join(', ')}) (deriv(${waiting}[${BACKLOG_WINDOW}])) * 60`;
    const neverDrained = `max by (${QUEUE.join(', ')}) (min_over_time(${waiting}[${BACKLOG_WINDOW}]))`;
    rules.push({
      alert: 'BullmqBacklogGrowing',
      expr: `${growth} > 0 and on (${QUEUE.join(', ')}) ${neverDrained} > 0`,
      for: BACKLOG_WINDOW,
      labels: { severity: 'warning' },
      annotations: {
        summary: `The backlog of BullMQ ${where} keeps growing`,
        description: `The waiting jobs of BullMQ ${where} grew by {{ printf "%.1f" $value }} a minute over the last 15 minutes, without the queue draining once, and have grown like this for 15 minutes: jobs arrive faster than the workers finish them, and each waits longer than the one before. Add workers or concurrency, or look for processing that became slow.`,
      },
    });
  }
  return rules;
}
