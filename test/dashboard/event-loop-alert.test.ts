/**
 * The generated NodeEventLoopStalled rule, in a real Prometheus scraping real processes: one whose event loop
 * is blocked 1 s every 5 s, which must fire, and a quiet one, which must not.
 *
 * Time is compressed 15 times so the test ends within a minute: Prometheus scrapes and evaluates every
 * second, and the rule's 2-minute window and 5-minute `for` become 8 s and 20 s. The expression is otherwise
 * the generated one (the delay samples over 0.2 s, from the histogram's count and bucket).
 *
 * Beside it runs the rule telemeter 0.1 generated (the p99 of the same histogram over 0.1 s), on the same
 * clock: it stays silent, because one long sample among the hundreds of a free loop never reaches a p99.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertRuleList } from '../../src/dashboard/index.js';
import { toYaml } from '../../src/dashboard/yaml.js';
import { runtimeMetrics } from '../../src/runtime/index.js';
import { type ChildHandle, startChild } from '../e2e/child-process.js';
import { type PrometheusHandle, startPrometheus } from '../support/prometheus-server.js';
import { requirePrometheus } from '../support/tools.js';

const hasPrometheus = requirePrometheus();
const FIXTURE = join(import.meta.dirname, 'fixtures', 'stalling-process.ts');

interface PrometheusAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
}

/** NodeEventLoopStalled as generated, on a clock 15 times faster. */
function compressedRule() {
  const rule = alertRuleList(runtimeMetrics(), { selfMetrics: false }).find(
    (r) => r.alert === 'NodeEventLoopStalled',
  );
  if (rule === undefined) throw new Error('runtimeMetrics() gives no NodeEventLoopStalled rule');
  expect(rule.for).toBe('5m');
  expect(rule.expr.match(/\[2m\]/g)).toHaveLength(2);
  return { ...rule, expr: rule.expr.replaceAll('[2m]', '[8s]'), for: '20s' };
}

describe.skipIf(!hasPrometheus)('NodeEventLoopStalled in a real Prometheus', () => {
  const children: ChildHandle[] = [];
  let prom: PrometheusHandle;
  let dir: string;

  async function start(name: string, blockMs: number, everyMs: number): Promise<string> {
    const child = startChild(
      process.execPath,
      ['--import', 'tsx', FIXTURE, String(blockMs), String(everyMs)],
      {
        name,
      },
    );
    children.push(child);
    const [, port] = await child.waitForStdout(/listening (\d+)/, 20_000);
    return `127.0.0.1:${port}`;
  }

  async function alerts(): Promise<PrometheusAlert[]> {
    const res = await fetch(`${prom.url}/api/v1/alerts`, { signal: AbortSignal.timeout(5_000) });
    return (await res.json()).data.alerts;
  }

  beforeAll(async () => {
    const [stalling, quiet] = await Promise.all([start('stalling', 1000, 5000), start('quiet', 0, 5000)]);
    dir = await mkdtemp(join(tmpdir(), 'telemeter-stall-'));
    const rulesFile = join(dir, 'rules.yml');
    const previous = {
      alert: 'NodeEventLoopDelayP99High',
      expr: 'histogram_quantile(0.99, sum by (job, instance, le) (rate(nodejs_eventloop_delay_seconds_bucket[8s]))) > 0.1',
      for: '20s',
    };
    await writeFile(
      rulesFile,
      toYaml({ groups: [{ name: 'telemeter', rules: [compressedRule(), previous] }] }),
    );
    prom = await startPrometheus(
      [
        { jobName: 'stalling', targets: [stalling] },
        { jobName: 'quiet', targets: [quiet] },
      ],
      { ruleFiles: [rulesFile] },
    );
  }, 45_000);

  afterAll(async () => {
    await prom?.stop();
    await Promise.all(children.map((child) => child.stop('SIGTERM', 5_000)));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('fires for the process blocked 1 s every 5 s, and not for the quiet one', async () => {
    // First scrape ~6 s after start, then 20 s of `for`: bounded by time and by count.
    let firing: PrometheusAlert | undefined;
    let last: PrometheusAlert[] = [];
    for (let attempt = 0; attempt < 200 && firing === undefined; attempt++) {
      last = await alerts();
      firing = last.find((a) => a.state === 'firing' && a.labels.job === 'stalling');
      if (firing === undefined) await sleep(250);
    }
    expect(firing, JSON.stringify(last)).toBeDefined();
    expect(firing?.labels).toMatchObject({ alertname: 'NodeEventLoopStalled', severity: 'warning' });
    expect(firing?.annotations.summary).toMatch(
      /^The event loop of 127\.0\.0\.1:\d+ of job stalling keeps stalling \(blocked over 200ms\)$/,
    );
    // The blocks were counted: a whole number of stalls, at least one in the window.
    expect(firing?.annotations.description).toMatch(/\(stalls in the last 2 minutes: [1-9]\d*\)/);
    expect(last.filter((a) => a.labels.job === 'quiet' && a.state === 'firing')).toEqual([]);
    expect(last.filter((a) => a.labels.alertname === 'NodeEventLoopDelayP99High')).toEqual([]);
    // ...and that is its answer, not an evaluation error.
    const res = await fetch(`${prom.url}/api/v1/rules`, { signal: AbortSignal.timeout(5_000) });
    const rules = (await res.json()).data.groups.flatMap((g: { rules: unknown[] }) => g.rules);
    expect(rules.map((r: { name: string; health: string }) => `${r.name} ${r.health}`)).toEqual([
      'NodeEventLoopStalled ok',
      'NodeEventLoopDelayP99High ok',
    ]);
  }, 55_000);
});
