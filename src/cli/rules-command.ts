import { parseArgs } from 'node:util';
import { type AlertRulesOptions, alertRules } from '../dashboard/rules.js';
import { type CliIo, EXIT, UsageError, writeResult } from './command.js';
import { loadDefinitions, SOURCE_HELP, SOURCE_OPTIONS } from './metric-source.js';

export const RULES_HELP = `Usage: telemeter rules (--module <path> | --metrics default) [options]

Prints Prometheus alerting rules (YAML) for your metric definitions: target down, HTTP 5xx ratio and
p99 latency, event-loop stalls, memory growth after start-up, scrape errors, dropped events and series
overflow. A rule is included only when its metrics are defined. Load the file with rule_files in
prometheus.yml.

Options:
${SOURCE_HELP}
      --job <job>                   restrict every rule to this scrape job
      --group <name>                rule group name (default "telemeter")
      --error-ratio <ratio>         5xx share that alerts (default 0.05)
      --latency-p99 <seconds>       p99 HTTP duration that alerts (default 1)
      --event-loop-stall <seconds>  event-loop delay that counts as a stall (default 0.2);
                                    a bucket bound of nodejs_eventloop_delay_seconds
      --memory-limit <bytes>        alert when RSS is predicted to reach this within 4 h
                                    (default: when RSS is predicted to grow by half)
      --no-self-metrics             leave out the rules over telemeter's own metrics
  -o, --output <file>               write to a file instead of stdout
  -h, --help                        show this help

Example:
  npx telemeter rules --metrics default --job shop > telemeter-rules.yml
  promtool check rules telemeter-rules.yml
`;

/** `telemeter rules`: writes the rule file. */
export async function run(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      ...SOURCE_OPTIONS,
      job: { type: 'string' },
      group: { type: 'string' },
      'error-ratio': { type: 'string' },
      'latency-p99': { type: 'string' },
      'event-loop-stall': { type: 'string' },
      'memory-limit': { type: 'string' },
      'no-self-metrics': { type: 'boolean' },
      output: { type: 'string', short: 'o' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    io.stdout(RULES_HELP);
    return EXIT.ok;
  }
  const options: Record<string, unknown> = { selfMetrics: !values['no-self-metrics'] };
  if (values.job !== undefined) options.job = values.job;
  if (values.group !== undefined) options.groupName = values.group;
  const numbers: Array<[string | undefined, keyof AlertRulesOptions, string]> = [
    [values['error-ratio'], 'errorRatio', '--error-ratio'],
    [values['latency-p99'], 'latencyP99Seconds', '--latency-p99'],
    [values['event-loop-stall'], 'eventLoopStallSeconds', '--event-loop-stall'],
    [values['memory-limit'], 'memoryLimitBytes', '--memory-limit'],
  ];
  for (const [raw, key, flag] of numbers) {
    if (raw === undefined) continue;
    const value = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(value))
      throw new UsageError(`${flag} must be a number, got "${raw}"`);
    options[key] = value;
  }
  const definitions = await loadDefinitions(values, io.cwd);
  const yaml = alertRules(definitions, options as AlertRulesOptions);
  await writeResult(io, values.output, yaml, `telemeter rules: wrote ${values.output}`);
  return EXIT.ok;
}
