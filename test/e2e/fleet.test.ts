/**
 * A fleet (issue 7): three demo processes on loopback, one real Prometheus that finds them through
 * `file_sd_configs`. The fleet-wide sum over the `instance` label must equal the requests sent, exactly; when
 * one instance stops, its `up` goes to 0 while the others keep being scraped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActiveTarget, PrometheusHandle } from '../support/prometheus-server.js';
import { startPrometheus } from '../support/prometheus-server.js';
import { requirePrometheus } from '../support/tools.js';
import { type DemoProcess, startDemoProcess } from './demo-process.js';
import {
  addCounts,
  countsByLabels,
  countsByRoute,
  type PlannedRequest,
  sendTraffic,
  shopTraffic,
  vectorByLabels,
} from './shop-traffic.js';

const hasPrometheus = requirePrometheus();
const JOB = 'shop';
const SIZE = 3;

/** Resolves once every target has been scraped twice since `since` (ms), both times successfully. */
async function twoScrapesSince(
  prom: PrometheusHandle,
  targets: readonly string[],
  since: number,
): Promise<void> {
  const first = new Map<string, number>();
  await prom.waitForTargets((active: ActiveTarget[]) =>
    targets.every((target) => {
      const t = active.find((a) => a.labels.instance === target);
      const at = Date.parse(t?.lastScrape ?? '');
      if (t?.health !== 'up' || !(at > since)) return false;
      if (!first.has(target)) first.set(target, at);
      return at > first.get(target)!;
    }),
  );
}

describe.skipIf(!hasPrometheus)('a fleet of three demo instances behind one Prometheus (file_sd)', () => {
  const demos: DemoProcess[] = [];
  const plans: PlannedRequest[][] = [];
  let prom: PrometheusHandle;

  beforeAll(async () => {
    const started = await Promise.allSettled(Array.from({ length: SIZE }, () => startDemoProcess()));
    for (const result of started) if (result.status === 'fulfilled') demos.push(result.value);
    for (const result of started) if (result.status === 'rejected') throw result.reason;
    prom = await startPrometheus([
      { jobName: JOB, targets: demos.map((d) => d.metricsTarget), fileSd: true },
    ]);
    // Different amounts per instance, so a sum that counted one instance twice or missed one cannot match.
    for (let i = 0; i < SIZE; i++) plans.push(shopTraffic(i + 1));
    await Promise.all(demos.map((demo, i) => sendTraffic(demo.shopUrl, plans[i])));
    await twoScrapesSince(
      prom,
      demos.map((d) => d.metricsTarget),
      Date.now(),
    );
  });

  afterAll(async () => {
    await prom?.stop();
    await Promise.all(demos.map((d) => d.process.stop('SIGKILL')));
  });

  it('discovers every instance through file_sd, with job and instance labels', async () => {
    const targets = await prom.targets();
    expect(targets.map((t) => t.labels.instance).sort()).toEqual(demos.map((d) => d.metricsTarget).sort());
    for (const target of targets) {
      expect(target.labels.job).toBe(JOB);
      expect(target.health).toBe('up');
      expect(target.lastError).toBe('');
    }
    expect(Object.keys(prom.config)).toContain('scrape_configs');
    const [scrapeConfig] = prom.config.scrape_configs as Array<Record<string, unknown>>;
    expect(scrapeConfig.file_sd_configs).toBeDefined();
    expect(scrapeConfig.static_configs).toBeUndefined();
  });

  it('sums every request of every instance exactly, by route', async () => {
    const total = plans.map(countsByRoute).reduce(addCounts, {});
    const stored = vectorByLabels(
      await prom.query(`sum by (route) (http_server_requests_total{job="${JOB}"})`),
      ['route'],
    );
    expect(stored).toEqual(total);
    expect(await prom.queryValue(`sum(http_server_requests_total{job="${JOB}"})`)).toBe(
      plans.reduce((n, p) => n + p.length, 0),
    );
  });

  it('keeps each instance apart under its instance label', async () => {
    const stored = vectorByLabels(
      await prom.query(`sum by (instance, method, route, status) (http_server_requests_total{job="${JOB}"})`),
      ['instance', 'method', 'route', 'status'],
    );
    const expected: Record<string, number> = {};
    demos.forEach((demo, i) => {
      for (const [labels, count] of Object.entries(countsByLabels(plans[i]))) {
        expected[`${demo.metricsTarget} ${labels}`] = count;
      }
    });
    expect(stored).toEqual(expected);
  });

  it('marks a stopped instance down while the others keep reporting', async () => {
    const [kept1, stopped, kept2] = demos;
    const exit = await stopped.process.stop('SIGINT');
    expect(exit.code).toBe(0);
    const stoppedAt = Date.now();
    await prom.waitForQuery(
      `up{job="${JOB}",instance="${stopped.metricsTarget}"}`,
      (r) => r[0]?.value?.[1] === '0',
    );
    await twoScrapesSince(prom, [kept1.metricsTarget, kept2.metricsTarget], stoppedAt);

    const up = vectorByLabels(await prom.query(`up{job="${JOB}"}`), ['instance']);
    expect(up).toEqual({ [kept1.metricsTarget]: 1, [stopped.metricsTarget]: 0, [kept2.metricsTarget]: 1 });
    const down = (await prom.targets()).find((t) => t.labels.instance === stopped.metricsTarget);
    expect(down?.health).toBe('down');
    expect(down?.lastError).toMatch(/connection refused/);
    // The failed scrape marks the stopped instance's series stale, so the fleet sum is now the other two.
    const remaining = addCounts(countsByRoute(plans[0]), countsByRoute(plans[2]));
    const stored = vectorByLabels(
      await prom.query(`sum by (route) (http_server_requests_total{job="${JOB}"})`),
      ['route'],
    );
    expect(stored).toEqual(remaining);
  });
});
