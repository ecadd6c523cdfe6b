import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { lastValue, Telemeter } from '../../src/index.js';
import { instrumentRuntime, runtimeMetrics, startPoller } from '../../src/runtime/index.js';
import { parseOpenMetricsStrict } from '../support/openmetrics-parser.js';
import { checkMetrics } from '../support/promtool.js';
import { requirePromtool, requirePythonPrometheusClient } from '../support/tools.js';
import { busyWait, familyNames, sampleValue, sleep } from './helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const hasPromtool = requirePromtool();
const hasPython = requirePythonPrometheusClient();
const linux = process.platform === 'linux';

const EXPECTED_NAMES = [
  'process_cpu_user_seconds_total',
  'process_cpu_system_seconds_total',
  'process_cpu_seconds_total',
  'process_start_time_seconds',
  'process_resident_memory_bytes',
  ...(linux
    ? ['process_virtual_memory_bytes', 'process_heap_bytes', 'process_open_fds', 'process_max_fds']
    : []),
  'nodejs_eventloop_lag_seconds',
  'nodejs_eventloop_lag_min_seconds',
  'nodejs_eventloop_lag_max_seconds',
  'nodejs_eventloop_lag_mean_seconds',
  'nodejs_eventloop_lag_stddev_seconds',
  'nodejs_eventloop_lag_p50_seconds',
  'nodejs_eventloop_lag_p90_seconds',
  'nodejs_eventloop_lag_p99_seconds',
  'nodejs_eventloop_delay_seconds',
  'nodejs_eventloop_utilization_ratio',
  'nodejs_active_resources',
  'nodejs_active_resources_all',
  'nodejs_active_handles',
  'nodejs_active_handles_all',
  'nodejs_active_requests',
  'nodejs_active_requests_all',
  'nodejs_heap_size_total_bytes',
  'nodejs_heap_size_used_bytes',
  'nodejs_external_memory_bytes',
  'nodejs_heap_space_size_total_bytes',
  'nodejs_heap_space_size_used_bytes',
  'nodejs_heap_space_size_available_bytes',
  'nodejs_version_info',
  'nodejs_gc_duration_seconds',
];

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** A Telemeter over runtimeMetrics() after a few real polls, GCs and a blocked loop. */
async function polledTelemeter(extra: Parameters<typeof lastValue>[] = []) {
  const telemeter = new Telemeter({ metrics: [...runtimeMetrics(), ...extra.map((a) => lastValue(...a))] });
  const runtime = instrumentRuntime({ period: 20 });
  cleanups.push(
    () => runtime.stop(),
    () => telemeter.close(),
  );
  await sleep(60);
  gc();
  busyWait(120);
  await sleep(60);
  runtime.poller.poll();
  await sleep(5);
  return { telemeter, runtime };
}

describe('runtimeMetrics', () => {
  it('defines exactly the documented Prometheus names', () => {
    const telemeter = new Telemeter({ metrics: runtimeMetrics(), selfMetrics: false });
    cleanups.push(() => telemeter.close());
    expect(familyNames(telemeter.scrape())).toEqual(EXPECTED_NAMES);
    expect(telemeter.metricFamilies.every((f) => f.help !== '')).toBe(true);
  });

  it('applies a prefix and validates its options, naming them', () => {
    const names = runtimeMetrics({ prefix: 'shop_' }).map((d) => d.name);
    expect(names).toContain('shop_process_cpu_seconds_total');
    expect(names.every((n) => n.startsWith('shop_'))).toBe(true);
    expect(() => runtimeMetrics({ prefix: '1x' })).toThrow(/option prefix/);
    expect(() => runtimeMetrics({ buckets: [1] } as never)).toThrow(/option buckets is unknown/);
    expect(() => runtimeMetrics({ gcDurationBuckets: [2, 1] })).toThrow(
      /nodejs_gc_duration_seconds.*reporterOptions\.buckets must be strictly increasing/,
    );
  });

  it('exports values that match the process', async () => {
    const before = process.cpuUsage();
    const { telemeter } = await polledTelemeter();
    const after = process.cpuUsage();
    const body = telemeter.scrape();
    const user = sampleValue(body, 'process_cpu_user_seconds_total')!;
    const system = sampleValue(body, 'process_cpu_system_seconds_total')!;
    expect(user).toBeGreaterThanOrEqual(before.user / 1e6 - 1e-9);
    expect(user).toBeLessThanOrEqual(after.user / 1e6 + 1e-9);
    expect(system).toBeGreaterThanOrEqual(before.system / 1e6 - 1e-9);
    expect(sampleValue(body, 'process_cpu_seconds_total')).toBeCloseTo(user + system, 9);
    expect(sampleValue(body, 'process_start_time_seconds')).toBeCloseTo(performance.timeOrigin / 1000, 3);
    const [major, minor, patch] = process.version.slice(1).split('.');
    expect(sampleValue(body, 'nodejs_version_info', { version: process.version, major, minor, patch })).toBe(
      1,
    );
    const rss = sampleValue(body, 'process_resident_memory_bytes')!;
    expect(rss / process.memoryUsage.rss()).toBeGreaterThan(0.5);
    expect(rss / process.memoryUsage.rss()).toBeLessThan(2);
    expect(sampleValue(body, 'nodejs_heap_space_size_used_bytes', { space: 'old' })).toBeGreaterThan(0);
    const utilization = sampleValue(body, 'nodejs_eventloop_utilization_ratio')!;
    expect(utilization).toBeGreaterThan(0);
    expect(utilization).toBeLessThanOrEqual(1);
    const delayCount = sampleValue(body, 'nodejs_eventloop_delay_seconds_count')!;
    expect(
      delayCount - sampleValue(body, 'nodejs_eventloop_delay_seconds_bucket', { le: '0.1' })!,
    ).toBeGreaterThanOrEqual(1);
    if (linux) {
      expect(sampleValue(body, 'process_open_fds')).toBeGreaterThan(2);
      expect(sampleValue(body, 'process_max_fds')).toBeGreaterThanOrEqual(
        sampleValue(body, 'process_open_fds')!,
      );
    }
  });

  it('gives CPU counters the process total even when the Telemeter is created after the polls began', async () => {
    const poller = startPoller({ period: 10, measurements: ['cpu'] });
    cleanups.push(() => poller.stop());
    await sleep(50);
    busyWait(30);
    const shared = runtimeMetrics();
    const late = new Telemeter({ metrics: shared, selfMetrics: false });
    const twin = new Telemeter({ metrics: shared, selfMetrics: false });
    cleanups.push(
      () => late.close(),
      () => twin.close(),
    );
    const before = process.cpuUsage();
    poller.poll();
    busyWait(20);
    poller.poll();
    const after = process.cpuUsage();
    const value = sampleValue(late.scrape(), 'process_cpu_user_seconds_total')!;
    expect(value).toBeGreaterThanOrEqual(before.user / 1e6 - 1e-9);
    expect(value).toBeLessThanOrEqual(after.user / 1e6 + 1e-9);
    // Two Telemeters sharing one definition list both see the full total.
    expect(sampleValue(twin.scrape(), 'process_cpu_user_seconds_total')).toBe(value);
  });

  it('keeps the article definition working: vm.memory.total in kilobytes is rss / 1000', () => {
    const telemeter = new Telemeter({
      metrics: [lastValue('vm.memory.total', { unit: ['byte', 'kilobyte'] })],
      selfMetrics: false,
    });
    const poller = startPoller({ measurements: ['memory'] });
    cleanups.push(
      () => poller.stop(),
      () => telemeter.close(),
    );
    const rssBefore = process.memoryUsage.rss();
    poller.poll();
    const rssAfter = process.memoryUsage.rss();
    const body = telemeter.scrape();
    expect(body).toMatch(/^# TYPE vm_memory_total gauge$/m);
    const kilobytes = sampleValue(body, 'vm_memory_total')!;
    expect(kilobytes).toBeGreaterThanOrEqual(Math.min(rssBefore, rssAfter) / 1000 - 1024);
    expect(kilobytes).toBeLessThanOrEqual(Math.max(rssBefore, rssAfter) / 1000 + 1024);
  });

  it.skipIf(!hasPromtool)('passes promtool check metrics with no lint problem', async () => {
    const { telemeter } = await polledTelemeter();
    const body = telemeter.scrape();
    expect(sampleValue(body, 'nodejs_gc_duration_seconds_count', { kind: 'major' })).toBeGreaterThanOrEqual(
      1,
    );
    expect(sampleValue(body, 'nodejs_active_resources_all')).toBeGreaterThanOrEqual(1);
    const result = await checkMetrics(body);
    expect(result, result.stderr).toMatchObject({ code: 0, lint: [] });
  });

  it.skipIf(!hasPromtool)('control: promtool does flag the gauge the article definition makes', async () => {
    const { telemeter } = await polledTelemeter([['vm.memory.total', { unit: ['byte', 'kilobyte'] }]]);
    const result = await checkMetrics(telemeter.scrape());
    expect(result.code).toBe(3);
    expect(result.lint).toEqual(['vm_memory_total non-counter metrics should not have "_total" suffix']);
  });

  it.skipIf(!hasPython)('is accepted by the strict OpenMetrics parser', async () => {
    const { telemeter } = await polledTelemeter();
    const result = await parseOpenMetricsStrict(telemeter.scrape({ format: 'openmetrics' }));
    expect(result.error).toBeUndefined();
    const families = new Map(result.families!.map((f) => [f.name, f]));
    expect(families.get('process_cpu_seconds')).toMatchObject({ type: 'counter', unit: 'seconds' });
    expect(families.get('nodejs_gc_duration_seconds')).toMatchObject({ type: 'histogram', unit: 'seconds' });
    expect(families.get('nodejs_heap_size_used_bytes')).toMatchObject({ type: 'gauge', unit: 'bytes' });
  });
});
