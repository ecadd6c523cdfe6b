/**
 * Grafana dashboards and Prometheus alerting rules, generated from the metric definitions a Telemeter
 * aggregates, so they name exactly the series it exports; and the live dashboard, a page served next to
 * `/metrics` that charts every metric from a history the server keeps.
 *
 * @packageDocumentation
 */
export {
  allExpressions,
  type GrafanaVariableValues,
  interpolateGrafana,
  type SourcedExpression,
} from './expressions.js';
export {
  type GrafanaDashboard,
  type GrafanaDashboardOptions,
  type GrafanaImportInput,
  type GrafanaPanel,
  type GrafanaRequirement,
  type GrafanaTarget,
  grafanaDashboard,
  SCHEMA_VERSION,
} from './grafana.js';
export {
  CHART_QUANTILES,
  type DashboardData,
  DashboardHistory,
  type DashboardMeta,
  type DashboardSource,
  type DashboardStatus,
  type HistoryOptions,
  type LineSeriesData,
  type MetricData,
  type MetricInfo,
  type MetricView,
  type SummarySeriesData,
} from './live/history.js';
export {
  DASHBOARD_CSP,
  type LiveDashboard,
  type LiveDashboardOptions,
  liveDashboard,
  mountDashboard,
} from './live/live-dashboard.js';
export { type AlertRule, type AlertRulesOptions, alertRuleList, alertRules } from './rules.js';
