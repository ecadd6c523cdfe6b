/**
 * The Restarts annotation marks each process start exactly once, at the moment it happened, whatever step
 * Grafana queries with. Six hours of `process_start_time_seconds` with three restarts are backfilled into a real
 * Prometheus; its range queries at several steps go through Grafana's rule for turning a Prometheus
 * annotation result into marks (reimplemented below), and the marks must be the three restarts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grafanaDashboard, interpolateGrafana } from '../../src/dashboard/index.js';
import { runtimeMetrics } from '../../src/runtime/index.js';
import { type PrometheusHandle, startPrometheus } from '../support/prometheus-server.js';
import { requirePrometheus, requirePromtool } from '../support/tools.js';

const hasTools = requirePrometheus() && requirePromtool();

const SCRAPE = 15;
const HOUR = 3600;
// A past hour boundary, so that the range starts on a multiple of every step below, as Grafana aligns it.
const END = Math.floor(Date.now() / 1000 / HOUR) * HOUR - HOUR;
const START = END - 6 * HOUR;
/** When instance "a" restarted (seconds; a start time has a fraction, as process_start_time_seconds has). */
const RESTARTS = [START + HOUR + 7.5, START + 2.5 * HOUR + 104.25, START + 4.2 * HOUR + 3.75];
/** The start of the process already running when the range begins, for "a" and for "b" (which never restarts). */
const EARLIER = { a: START - 3 * HOUR + 0.125, b: START - 1800.5 };

/** Samples every 15 s from 2 h before the range; a process is scraped from 15 s after it started. */
function backfill(): string {
  const lines = ['# TYPE process_start_time_seconds gauge'];
  const series = (instance: string, starts: number[]) => {
    for (let t = START - 2 * HOUR; t <= END; t += SCRAPE) {
      const current = starts.filter((s) => s + SCRAPE <= t).at(-1);
      // Down between a restart and the new process's first scrape: no sample.
      if (current === undefined || starts.some((s) => s <= t && t < s + SCRAPE)) continue;
      lines.push(`process_start_time_seconds{job="shop",instance="${instance}"} ${current} ${t}`);
    }
  };
  series('a', [EARLIER.a, ...RESTARTS]);
  series('b', [EARLIER.b]);
  lines.push('# EOF', '');
  return lines.join('\n');
}

interface Mark {
  time: number;
  timeEnd: number;
}

/**
 * Grafana's processing of one series of a Prometheus annotation query (grafana/grafana
 * `packages/grafana-prometheus/src/annotations.ts`, `processEvents`): with `useValueForTime` the value is the
 * mark's time in ms, else the sample's time when the value is positive; marks closer than one step merge.
 */
function grafanaMarks(
  values: Array<[number, string]>,
  stepSeconds: number,
  useValueForTime: boolean,
): Mark[] {
  const points = values.map(([time, value]): [number, number] =>
    useValueForTime ? [Math.floor(Number.parseFloat(value)), 1] : [time * 1000, Number.parseFloat(value)],
  );
  const active = points.filter(([, value]) => value > 0).map(([time]) => time);
  const marks: Mark[] = [];
  let latest: Mark | undefined;
  for (const time of active) {
    if (latest !== undefined && latest.timeEnd + stepSeconds * 1000 >= time) {
      latest.timeEnd = time;
      continue;
    }
    if (latest !== undefined) marks.push(latest);
    latest = { time, timeEnd: time };
  }
  if (latest !== undefined) marks.push(latest);
  return marks;
}

describe.skipIf(!hasTools)('the Restarts annotation', () => {
  let prom: PrometheusHandle;
  const annotation = grafanaDashboard(runtimeMetrics()).annotations.list.find(
    (a) => a.name === 'Restarts',
  ) as {
    target: { expr: string };
    useValueForTime: boolean;
  };

  /** The marks Grafana shows inside the range, per instance, for `expr` queried at `step`. */
  async function marksOf(expr: string, step: number, useValueForTime: boolean) {
    const query = interpolateGrafana(expr, { job: 'shop' });
    const url = `${prom.url}/api/v1/query_range?query=${encodeURIComponent(query)}&start=${START}&end=${END}&step=${step}`;
    const body = await (await fetch(url, { signal: AbortSignal.timeout(10_000) })).json();
    expect(body.status, JSON.stringify(body)).toBe('success');
    const byInstance: Record<string, Mark[]> = {};
    for (const series of body.data.result) {
      byInstance[series.metric.instance] = grafanaMarks(series.values, step, useValueForTime).filter(
        (mark) => mark.time >= START * 1000 && mark.time <= END * 1000,
      );
    }
    return byInstance;
  }

  beforeAll(async () => {
    prom = await startPrometheus([], { backfill: backfill() });
  });

  afterAll(async () => {
    await prom?.stop();
  });

  it('marks every restart once, at its moment, at any step', async () => {
    expect(annotation.useValueForTime).toBe(true);
    const expected = RESTARTS.map((s) => ({ time: Math.floor(s * 1000), timeEnd: Math.floor(s * 1000) }));
    // 15 s: the scrape interval; 60 s: Grafana's default annotation step; 5 and 20 min: long ranges.
    for (const step of [15, 60, 300, 1200]) {
      const marks = await marksOf(annotation.target.expr, step, true);
      expect(marks.a, `step ${step}`).toEqual(expected);
      expect(marks.b, `step ${step}`).toEqual([]);
    }
  });

  it('can fail: the previous query, changes() over $__interval, misses restarts at the default step', async () => {
    const previous =
      'changes(process_start_time_seconds{job=~"$job",instance=~"$instance"}[$__interval]) > 0';
    // $__interval follows the panel width down to the data source's minimum (15 s by default), while Grafana
    // queries annotations every 60 s: a window shorter than the step sees only some of the restarts.
    for (const interval of ['15s', '30s']) {
      const marks = await marksOf(interpolateGrafana(previous, { interval }), 60, false);
      expect((marks.a ?? []).length, interval).toBeLessThan(RESTARTS.length);
    }
  });
});
