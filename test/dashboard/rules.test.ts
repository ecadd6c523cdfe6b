import { describe, expect, it } from 'vitest';
import { alertRuleList, alertRules } from '../../src/dashboard/index.js';
import { toYaml } from '../../src/dashboard/yaml.js';
import { httpMetrics } from '../../src/http/index.js';
import { runtimeMetrics } from '../../src/runtime/index.js';
import { metrics as fixtureMetrics } from '../fixtures/telemetry.js';
import { checkRules } from '../support/promtool.js';
import { requirePromtool } from '../support/tools.js';
import { exportedFamilies } from './exported-names.js';
import { selectorsOf } from './promql-selectors.js';

const hasPromtool = requirePromtool();
const builtIn = [...httpMetrics(), ...runtimeMetrics()];
const everything = [...fixtureMetrics, ...builtIn];
const ALL_RULES = [
  'TargetDown',
  'HttpServerErrorRatioHigh',
  'HttpServerLatencyHigh',
  'NodeEventLoopStalled',
  'ProcessMemoryGrowing',
  'TelemeterScrapeErrors',
  'TelemeterDroppedEvents',
  'TelemeterSeriesOverflow',
];

describe('alertRules', () => {
  it('includes a rule only when its metric is defined; TargetDown always', () => {
    expect(alertRuleList(everything).map((r) => r.alert)).toEqual(ALL_RULES);
    expect(alertRuleList([], { selfMetrics: false }).map((r) => r.alert)).toEqual(['TargetDown']);
    expect(alertRuleList(fixtureMetrics).map((r) => r.alert)).toEqual([
      'TargetDown',
      'TelemeterScrapeErrors',
      'TelemeterDroppedEvents',
      'TelemeterSeriesOverflow',
    ]);
    expect(alertRuleList(httpMetrics(), { selfMetrics: false }).map((r) => r.alert)).toEqual([
      'TargetDown',
      'HttpServerErrorRatioHigh',
      'HttpServerLatencyHigh',
    ]);
  });

  it('gives every rule a duration, a severity, a summary and a description', () => {
    for (const rule of alertRuleList(everything)) {
      expect(rule.for, rule.alert).toMatch(/^\d+[mh]$/);
      expect(['critical', 'warning', 'info'], rule.alert).toContain(rule.labels.severity);
      expect(rule.annotations.summary.length, rule.alert).toBeGreaterThan(10);
      expect(rule.annotations.description.length, rule.alert).toBeGreaterThan(20);
    }
  });

  it('selects only series the definitions export', () => {
    const exported = new Set(['up', ...exportedFamilies(everything).flatMap((f) => f.samples)]);
    for (const rule of alertRuleList(everything)) {
      const selectors = selectorsOf(rule.expr);
      expect(selectors.length, rule.alert).toBeGreaterThan(0);
      for (const s of selectors) expect(exported.has(s.name), `${rule.alert}: ${s.name}`).toBe(true);
    }
    const byName = Object.fromEntries(alertRuleList(everything).map((r) => [r.alert, r.expr]));
    expect(byName.HttpServerErrorRatioHigh).toContain('http_server_requests_total{status=~"5.."}');
    expect(byName.HttpServerLatencyHigh).toContain('histogram_quantile(0.99, sum by (job, le) (rate(');
    expect(byName.ProcessMemoryGrowing).toContain('predict_linear(process_resident_memory_bytes[1h]');
    expect(byName.ProcessMemoryGrowing).toContain('time() - process_start_time_seconds > 75 * 60');
    expect(byName.NodeEventLoopStalled).toBe(
      'sum by (job, instance) (increase(nodejs_eventloop_delay_seconds_count[2m])) - sum by (job, instance) (increase(nodejs_eventloop_delay_seconds_bucket{le="0.2"}[2m])) > 0',
    );
    expect(byName.TelemeterScrapeErrors).toContain('telemeter_scrapes_total{status!="200"}');
  });

  it('restricts every selector to the job when one is given', () => {
    for (const rule of alertRuleList(everything, { job: 'shop' })) {
      for (const s of selectorsOf(rule.expr)) expect(s.matchers, rule.alert).toContain('job="shop"');
    }
  });

  it('uses the memory limit when one is given, and the thresholds', () => {
    const rules = alertRuleList(everything, {
      memoryLimitBytes: 512e6,
      errorRatio: 0.02,
      latencyP99Seconds: 0.5,
      eventLoopStallSeconds: 1,
    });
    const byName = Object.fromEntries(rules.map((r) => [r.alert, r.expr]));
    expect(byName.ProcessMemoryGrowing).toContain('> 512000000 and on (job, instance)');
    expect(byName.HttpServerErrorRatioHigh).toMatch(/> 0\.02$/);
    expect(byName.HttpServerLatencyHigh).toMatch(/> 0\.5$/);
    // Bucket bounds are spelt as OpenMetrics requires in both formats: 1 is "1.0".
    expect(byName.NodeEventLoopStalled).toContain('nodejs_eventloop_delay_seconds_bucket{le="1.0"}[2m]');
    const custom = [...httpMetrics(), ...runtimeMetrics({ eventLoopDelayBuckets: [0.05, 0.25, 3] })];
    const stalled = alertRuleList(custom, { eventLoopStallSeconds: 0.25 }).find(
      (r) => r.alert === 'NodeEventLoopStalled',
    );
    expect(stalled?.expr).toContain('{le="0.25"}');
    expect(stalled?.annotations.summary).toContain('blocked over 250ms');
  });

  it('annotates with the thresholds in units that read naturally', () => {
    const rules = alertRuleList(everything, {
      memoryLimitBytes: 1.5 * 1024 ** 3,
      latencyP99Seconds: 0.3,
      errorRatio: 0.015,
    });
    const text = Object.fromEntries(rules.map((r) => [r.alert, r.annotations.description]));
    expect(text.ProcessMemoryGrowing).toContain('its limit of 1.5GiB within 4 hours');
    expect(text.HttpServerLatencyHigh).toContain('over 300ms for 10 minutes');
    expect(text.HttpServerErrorRatioHigh).toContain('more than 1.5% for 10 minutes');
    // Counts are printed whole, never with humanize's SI prefixes (0.0667 would read "66.67m").
    for (const rule of rules) expect(rule.annotations.description, rule.alert).not.toMatch(/\| humanize }}/);
  });

  it('rejects bad options, naming them', () => {
    expect(() => alertRules([], { errorRatio: 2 })).toThrow(/option errorRatio/);
    expect(() => alertRules([], { latencyP99Seconds: -1 })).toThrow(/option latencyP99Seconds/);
    expect(() => alertRules([], { job: '' })).toThrow(/option job/);
    expect(() => alertRules([], { severity: 'page' } as never)).toThrow(/option severity is unknown/);
    expect(() => alertRules([{}] as never)).toThrow(/definitions\[0\]/);
    // The stall threshold is read from the histogram's buckets, so it must be one of their bounds.
    expect(() => alertRules(everything, { eventLoopStallSeconds: 0.3 })).toThrow(
      /option eventLoopStallSeconds must be a bucket bound of nodejs_eventloop_delay_seconds \(0\.005, .*, 10\), got 0\.3/,
    );
    expect(() => alertRules(everything, { eventLoopDelayP99Seconds: 0.1 } as never)).toThrow(
      expect.objectContaining({
        code: 'ERR_TELEMETER_UNKNOWN_OPTION',
        message: expect.stringContaining('option eventLoopDelayP99Seconds is gone'),
      }),
    );
  });
});

describe.skipIf(!hasPromtool)('alertRules judged by promtool check rules', () => {
  const cases: Array<[string, string]> = [
    ['every metric', alertRules(everything)],
    ['a job and a memory limit', alertRules(everything, { job: 'shop "eu"', memoryLimitBytes: 1.5e9 })],
    ['no metrics at all', alertRules([], { selfMetrics: false, groupName: 'empty' })],
    ['the fixture module', alertRules(fixtureMetrics)],
  ];
  for (const [name, yaml] of cases) {
    it(`passes for ${name}`, async () => {
      const result = await checkRules(yaml, { lintFatal: true });
      expect(result.stderr + result.stdout).toMatch(/SUCCESS: \d+ rules found/);
      expect(result.ok, result.stderr + result.stdout).toBe(true);
      const count = yaml.split('\n').filter((l) => l.trim().startsWith('- alert:')).length;
      expect(result.stdout).toContain(`SUCCESS: ${count} rules found`);
    });
  }

  it('can fail: a rule with a broken expression is rejected', async () => {
    const broken = alertRules([]).replace('"up == 0"', '"up == "');
    expect((await checkRules(broken)).ok).toBe(false);
  });
});

describe('toYaml', () => {
  it('quotes every string so no value turns into another type or a comment', () => {
    const text = toYaml({
      groups: [
        {
          name: 'a: b # c',
          rules: [{ alert: 'X', expr: 'up{job="a\\b"} == 0', labels: { severity: 'yes' }, n: 1.5, on: true }],
        },
      ],
      empty: [],
      'odd key': {},
    });
    expect(text).toBe(
      [
        'groups:',
        '  - name: "a: b # c"',
        '    rules:',
        '      - alert: "X"',
        '        expr: "up{job=\\"a\\\\b\\"} == 0"',
        '        labels:',
        '          severity: "yes"',
        '        n: 1.5',
        '        on: true',
        'empty: []',
        '"odd key": {}',
        '',
      ].join('\n'),
    );
  });
});
