/**
 * Grafana dashboards and Prometheus alerting rules, generated from the metric definitions a Telemeter
 * aggregates, so they name exactly the series it exports.
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
  type GrafanaPanel,
  type GrafanaTarget,
  grafanaDashboard,
  SCHEMA_VERSION,
} from './grafana.js';
export { type AlertRule, type AlertRulesOptions, alertRuleList, alertRules } from './rules.js';
