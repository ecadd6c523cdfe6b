import type { GrafanaDashboard } from './grafana.js';

/** A PromQL expression and where it came from, for messages that name the panel or rule. */
export interface SourcedExpression {
  /** `panel 12 "http_server_requests_total per second" A`, `annotation "Restarts"`, `rule TargetDown`. */
  readonly source: string;
  /** The expression as written, Grafana variables (`$job`, `$__rate_interval`) included. */
  readonly expr: string;
}

/**
 * Every PromQL expression of a generated dashboard (panel targets, also inside collapsed rows, and
 * annotation queries) and, when given, of a rules file written by `alertRules`. Variable queries
 * (`label_values(…)`) are Grafana functions, not PromQL, and are left out.
 */
export function allExpressions(
  dashboard: GrafanaDashboard | object,
  rulesYaml?: string,
): SourcedExpression[] {
  const result: SourcedExpression[] = [];
  const model = dashboard as Partial<GrafanaDashboard>;
  const visit = (panels: readonly Record<string, any>[] | undefined) => {
    for (const panel of panels ?? []) {
      for (const target of panel.targets ?? []) {
        if (typeof target.expr === 'string' && target.expr !== '') {
          result.push({ source: `panel ${panel.id} "${panel.title}" ${target.refId}`, expr: target.expr });
        }
      }
      visit(panel.panels);
    }
  };
  visit(model.panels);
  for (const annotation of model.annotations?.list ?? []) {
    // The query sits in `target` in the current model; older models kept it at the top level.
    const expr = (annotation.target as { expr?: unknown } | undefined)?.expr ?? annotation.expr;
    if (typeof expr === 'string' && expr !== '') {
      result.push({ source: `annotation "${annotation.name}"`, expr });
    }
  }
  if (rulesYaml !== undefined) result.push(...ruleExpressions(rulesYaml));
  return result;
}

/** The `expr` of each rule in a rules file, read back from the line-per-key YAML that `alertRules` writes. */
function ruleExpressions(yaml: string): SourcedExpression[] {
  const result: SourcedExpression[] = [];
  let name = '(unnamed rule)';
  for (const line of yaml.split('\n')) {
    const named = /^\s*-?\s*(alert|record):\s*(.+)$/.exec(line);
    if (named) name = `rule ${unquote(named[2])}`;
    const expr = /^\s*-?\s*expr:\s*(.+)$/.exec(line);
    if (expr) result.push({ source: name, expr: unquote(expr[1]) });
  }
  return result;
}

function unquote(raw: string): string {
  const text = raw.trim();
  if (text.startsWith('"')) return JSON.parse(text) as string;
  if (text.startsWith("'")) return text.slice(1, -1).replaceAll("''", "'");
  return text;
}

/** Values for the Grafana variables of a generated dashboard, to run its queries outside Grafana. */
export interface GrafanaVariableValues {
  /** Regex for `$job`. Default `.*`. */
  readonly job?: string;
  /** Regex for `$instance`. Default `.*`. */
  readonly instance?: string;
  /** `$__rate_interval`. Default `1m`. */
  readonly rateInterval?: string;
  /** `$__interval`. Default `15s`. */
  readonly interval?: string;
  /** `$__range`. Default `1h`. */
  readonly range?: string;
}

/** Replaces Grafana's variables in `expr` the way Grafana would, so Prometheus can run it. */
export function interpolateGrafana(expr: string, values: GrafanaVariableValues = {}): string {
  const table: Record<string, string> = {
    __rate_interval: values.rateInterval ?? '1m',
    __interval: values.interval ?? '15s',
    __range: values.range ?? '1h',
    job: values.job ?? '.*',
    instance: values.instance ?? '.*',
  };
  return expr.replace(
    /\$\{?(__rate_interval|__interval|__range|job|instance)\}?/g,
    (_, name: string) => table[name],
  );
}
