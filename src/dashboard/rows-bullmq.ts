import { type ExportedMetric, findMetric } from './exported-metrics.js';
import { selector, sumBy } from './promql.js';

/** Title of the row that holds `bullmqMetrics()`. */
export const BULLMQ_ROW = 'BullMQ';

/** A panel that no single metric gives, in the terms grafana.ts builds timeseries panels from. */
export interface HeadlinePanel {
  readonly title: string;
  readonly description: string;
  readonly unit: string;
  readonly targets: ReadonlyArray<{ readonly expr: string; readonly legendFormat: string }>;
}

/**
 * The panels that open the BullMQ row, before one panel per metric: the share of jobs failing for good (what
 * `BullmqJobFailureRatioHigh` reads), and the depth of each queue by state counted once, although every process
 * that polls a queue reports the same depth.
 */
export function bullmqHeadlines(
  metrics: readonly ExportedMetric[],
  matchers: readonly string[],
  rate: string,
): HeadlinePanel[] {
  const panels: HeadlinePanel[] = [];
  const jobs = findMetric(metrics, 'bullmq_jobs', 'counter');
  if (jobs?.tags.includes('outcome') && jobs.tags.includes('queue')) {
    const failed = sumBy(
      ['queue'],
      `rate(${selector(jobs.series, [...matchers, 'outcome="failed"'])}${rate})`,
    );
    const finished = sumBy(
      ['queue'],
      `rate(${selector(jobs.series, [...matchers, 'outcome=~"completed|failed"'])}${rate})`,
    );
    panels.push({
      title: 'BullMQ jobs failing for good',
      description:
        'Share of the jobs of each queue that failed after all their attempts, among those that finished. Retried attempts are not failures yet.',
      unit: 'percentunit',
      targets: [{ expr: `${failed} / ${finished}`, legendFormat: '{{queue}}' }],
    });
  }
  const depth = findMetric(metrics, 'bullmq_queue_jobs', 'gauge');
  if (depth?.tags.includes('state') && depth.tags.includes('queue')) {
    panels.push({
      title: 'BullMQ jobs by queue and state',
      description:
        'Jobs in each state of each queue, from the latest getJobCounts() poll; the highest reading when several processes poll one queue.',
      unit: 'none',
      targets: [
        {
          expr: `max by (queue, state) (${selector(depth.series, [...matchers, 'state!~"completed|failed"'])})`,
          legendFormat: '{{queue}} {{state}}',
        },
      ],
    });
  }
  return panels;
}
