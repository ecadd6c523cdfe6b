/**
 * Judging the generated dashboard and rule expressions against a real Prometheus that scraped the demo: each must
 * parse, and return data unless every metric it reads is one that has series only while something happens.
 */
import { interpolateGrafana } from '../../src/dashboard/index.js';
import type { PrometheusHandle } from './prometheus-server.js';
import { conditionOperand, metricsRead } from './promql-operands.js';

/**
 * Families with series only while something happens, and their type: an event a metric cannot record, a metric
 * at its series limit, a libuv request in flight when the runtime is polled. An expression that reads only these
 * may be empty, if the target declared them (its metadata lists the family with that type).
 */
export const MAY_BE_EMPTY: ReadonlyMap<string, string> = new Map([
  ['telemeter_dropped_events_total', 'counter'],
  ['telemeter_series_overflow_total', 'counter'],
  ['nodejs_active_requests', 'gauge'],
]);

/** An instant query, with its HTTP status and the parsed answer. */
export async function rawQuery(prom: PrometheusHandle, expr: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent(expr)}`, {
    signal: AbortSignal.timeout(5_000),
  });
  return { status: res.status, body: await res.json() };
}

/** The expressions that Prometheus rejected or that returned no data without excuse, and how many had data. */
export async function judgeExpressions(
  prom: PrometheusHandle,
  job: string,
  expressions: ReadonlyArray<{ source: string; expr: string }>,
): Promise<{ problems: string[]; withData: number }> {
  const declared = new Map<string, string>();
  for (const entry of await prom.metadata(job)) declared.set(entry.metric, entry.type);
  const problems: string[] = [];
  let withData = 0;
  for (const { source, expr } of expressions) {
    const query = interpolateGrafana(expr, { job });
    const whole = await rawQuery(prom, query);
    if (whole.status !== 200 || whole.body.status !== 'success') {
      problems.push(`${source}: rejected (${whole.body.error}): ${query}`);
      continue;
    }
    const operand = conditionOperand(query) ?? query;
    const judged = operand === query ? whole : await rawQuery(prom, operand);
    if (judged.body.data?.result?.length > 0) {
      withData++;
      continue;
    }
    // OpenMetrics metadata names a counter family without its `_total`; text metadata keeps it.
    const undeclared = metricsRead(operand).filter((name) => {
      const type = MAY_BE_EMPTY.get(name);
      return type === undefined || (declared.get(name) ?? declared.get(name.replace(/_total$/, ''))) !== type;
    });
    if (metricsRead(operand).length === 0 || undeclared.length > 0)
      problems.push(`${source}: no data: ${operand}`);
  }
  return { problems, withData };
}
