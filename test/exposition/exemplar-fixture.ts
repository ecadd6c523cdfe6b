import { counter, distribution, execute, lastValue, sum, summary, Telemeter } from '../../src/index.js';

/** When the fixture's events happen: exemplar timestamps are these, to the millisecond. */
export const FIXTURE_TIMES = [1_700_000_000_123, 1_700_000_001_000, 1_700_000_002_999];

/**
 * A Telemeter with exemplars on a counter, a sum and a histogram (in a finite bucket and in +Inf), next to families
 * without: a plain counter, a gauge and a summary. Call with the Date faked; it sets the time of each event.
 */
export function exemplarFixture(
  prefix: string,
  setTime: (ms: number) => void,
  withExemplars = true,
): Telemeter {
  const keep = <T>(exemplar: T): T | undefined => (withExemplars ? exemplar : undefined);
  const telemeter = new Telemeter({
    metrics: [
      counter(`${prefix}.req.count`, {
        eventName: `${prefix}.req`,
        measurement: 'duration',
        tags: ['route'],
        exemplar: keep((metadata: Record<string, unknown>) => ({
          trace_id: String(metadata.trace),
          span_id: String(metadata.span),
        })),
      }),
      sum(`${prefix}.req.bytes`, {
        eventName: `${prefix}.req`,
        measurement: 'bytes',
        exemplar: keep(() => ({})),
      }),
      distribution(`${prefix}.req.duration.seconds`, {
        eventName: `${prefix}.req`,
        measurement: 'duration',
        tags: ['route'],
        reporterOptions: { buckets: [0.1, 1] },
        exemplar: keep((metadata: Record<string, unknown>) =>
          metadata.trace === undefined ? undefined : { trace_id: String(metadata.trace), note: 'a "b"\\\n' },
        ),
      }),
      counter(`${prefix}.req.plain`, { eventName: `${prefix}.req`, measurement: 'duration' }),
      lastValue(`${prefix}.req.last`, { eventName: `${prefix}.req`, measurement: 'duration' }),
      summary(`${prefix}.req.latency`, { eventName: `${prefix}.req`, measurement: 'duration' }),
    ],
    globalTags: { service: 'shop' },
  });
  const events: [number, Record<string, unknown>][] = [
    [0.05, { route: '/a', trace: '4bf92f3577b34da6a3ce929d0e0e4736', span: '00f067aa0ba902b7' }],
    [0.5, { route: '/a', trace: '4bf92f3577b34da6a3ce929d0e0e4737', span: '00f067aa0ba902b8' }],
    [7.25, { route: '/b', trace: 'ünïcödé 日本', span: '😀' }],
  ];
  events.forEach(([duration, metadata], i) => {
    setTime(FIXTURE_TIMES[i]);
    execute(`${prefix}.req`, { duration, bytes: 100 * (i + 1) }, metadata);
  });
  return telemeter;
}
