import { describe, expect, it } from 'vitest';
import {
  alertRuleList,
  alertRules,
  allExpressions,
  type GrafanaPanel,
  grafanaDashboard,
} from '../../src/dashboard/index.js';
import { httpMetrics } from '../../src/http/index.js';
import { pgMetrics } from '../../src/pg/index.js';
import { thrown } from '../support/thrown.js';
import { exportedFamilies } from './exported-names.js';
import { selectorsOf } from './promql-selectors.js';

describe('the Databases row and rules', () => {
  const definitions = [...httpMetrics(), ...pgMetrics()];
  const dashboard = grafanaDashboard(definitions);

  it('puts the database families in one row after HTTP, with the operator panels', () => {
    const titles = dashboard.panels.map((p: GrafanaPanel) => `${p.type}:${p.title}`);
    const rows = titles.filter((t) => t.startsWith('row:'));
    expect(rows).toEqual(['row:Overview', 'row:HTTP', 'row:Databases', 'row:telemeter']);
    const start = titles.indexOf('row:Databases');
    const end = titles.indexOf('row:telemeter');
    expect(titles.slice(start + 1, end)).toEqual([
      'timeseries:Database operations per second',
      'timeseries:Database error ratio',
      'timeseries:Database operation p99',
      'timeseries:Pool connections used / idle',
      'timeseries:Pool requests waiting for a connection',
      'timeseries:db_client_connection_wait_time_seconds p50 / p90 / p99',
      'heatmap:db_client_connection_wait_time_seconds distribution',
      'timeseries:db_client_operation_queue_time_seconds p50 / p90 / p99',
      'heatmap:db_client_operation_queue_time_seconds distribution',
    ]);
    const errorRatio = dashboard.panels.find((p: GrafanaPanel) => p.title === 'Database error ratio');
    expect(errorRatio?.targets?.[0]?.expr).toBe(
      'sum by (db_system_name) (rate(db_client_operation_duration_seconds_count{job=~"$job",instance=~"$instance",error_type!=""}[$__rate_interval])) / sum by (db_system_name) (rate(db_client_operation_duration_seconds_count{job=~"$job",instance=~"$instance"}[$__rate_interval]))',
    );
  });

  it('reads only series a Telemeter exports, in the panels and the rules', () => {
    const exported = new Set(['up', ...exportedFamilies(definitions).flatMap((f) => f.samples)]);
    const expressions = allExpressions(dashboard, alertRules(definitions));
    expect(expressions.some((e) => e.expr.includes('db_client_connection_pending_requests'))).toBe(true);
    for (const { source, expr } of expressions) {
      for (const s of selectorsOf(expr)) expect(exported.has(s.name), `${source}: ${s.name}`).toBe(true);
    }
  });

  it('adds the database rules only with their metrics, and checks their options', () => {
    expect(alertRuleList(httpMetrics()).some((r) => r.alert.startsWith('Db'))).toBe(false);
    const rules = alertRuleList(definitions, { dbErrorRatio: 0.2, dbLatencyP99Seconds: 0.25 });
    expect(rules.filter((r) => r.alert.startsWith('Db')).map((r) => r.alert)).toEqual([
      'DbPoolSaturated',
      'DbOperationErrorRatioHigh',
      'DbOperationLatencyHigh',
    ]);
    expect(rules.find((r) => r.alert === 'DbOperationErrorRatioHigh')?.expr).toMatch(/ > 0\.2$/);
    expect(rules.find((r) => r.alert === 'DbOperationLatencyHigh')?.annotations.description).toContain(
      'over 250ms',
    );
    expect(thrown(() => alertRuleList(definitions, { dbErrorRatio: 2 }))).toMatchObject({
      code: 'ERR_TELEMETER_INVALID_OPTION',
      message: expect.stringContaining('dbErrorRatio'),
    });
    expect(thrown(() => alertRuleList(definitions, { dbLatencyP99: 1 } as never))).toMatchObject({
      code: 'ERR_TELEMETER_UNKNOWN_OPTION',
      message: expect.stringContaining('dbLatencyP99Seconds'),
    });
  });
});

describe('integrations sharing families', () => {
  it('gives one panel set and one rule set for a definition object listed twice, as a Telemeter records it once', () => {
    const once = grafanaDashboard(pgMetrics());
    const twice = grafanaDashboard([...pgMetrics(), ...pgMetrics()]);
    expect(twice.panels).toEqual(once.panels);
    expect(alertRules([...pgMetrics(), ...pgMetrics()])).toBe(alertRules(pgMetrics()));
    // Two different objects with one name are still a conflict.
    expect(
      thrown(() => grafanaDashboard([...pgMetrics(), ...httpMetrics(), ...httpMetrics()])),
    ).toMatchObject({
      code: 'ERR_TELEMETER_DUPLICATE_NAME',
    });
  });
});
