import { parseArgs } from 'node:util';
import { grafanaDashboard } from '../dashboard/grafana.js';
import { type CliIo, EXIT, writeResult } from './command.js';
import { loadDefinitions, SOURCE_HELP, SOURCE_OPTIONS } from './metric-source.js';

export const GRAFANA_HELP = `Usage: telemeter grafana (--module <path> | --metrics default) [options]

Prints a Grafana dashboard (JSON model) generated from your metric definitions: one row per group
(HTTP, your prefixes, Node.js runtime, telemeter), a \${datasource} variable, and job/instance
variables with "All" for the fleet. Import it in Grafana or put it in a provisioning folder.

Options:
${SOURCE_HELP}
      --title <title>    dashboard title (default "telemeter"); the uid is derived from it
      --uid <uid>        dashboard uid instead of the derived one
      --job <job>        scrape job selected when the dashboard opens (default: All)
      --no-self-metrics  leave out telemeter's own metrics (for Telemeters with selfMetrics: false)
  -o, --output <file>    write to a file instead of stdout
  -h, --help             show this help

Example:
  npx telemeter grafana --module ./telemetry.js --title Shop > dashboard.json
`;

/** `telemeter grafana`: writes the dashboard JSON. */
export async function run(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      ...SOURCE_OPTIONS,
      title: { type: 'string' },
      uid: { type: 'string' },
      job: { type: 'string' },
      'no-self-metrics': { type: 'boolean' },
      output: { type: 'string', short: 'o' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    io.stdout(GRAFANA_HELP);
    return EXIT.ok;
  }
  const definitions = await loadDefinitions(values, io.cwd);
  const dashboard = grafanaDashboard(definitions, {
    ...(values.title === undefined ? {} : { title: values.title }),
    ...(values.uid === undefined ? {} : { uid: values.uid }),
    ...(values.job === undefined ? {} : { job: values.job }),
    selfMetrics: !values['no-self-metrics'],
  });
  const json = `${JSON.stringify(dashboard, null, 2)}\n`;
  await writeResult(
    io,
    values.output,
    json,
    `telemeter grafana: wrote ${dashboard.panels.length} panels to ${values.output}`,
  );
  return EXIT.ok;
}
