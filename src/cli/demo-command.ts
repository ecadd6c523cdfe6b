import { parseArgs } from 'node:util';
import { type CliIo, EXIT, UsageError } from './command.js';
import { SCHEMA_NAME } from './demo/postgres-store.js';
import { startDemo } from './demo/start.js';

const HELP = `Usage: telemeter demo [options]

Runs the article end to end: an example shop API instrumented by telemeter, its private metrics server with
a live dashboard, and synthetic traffic. Stop it with Ctrl-C.

Options:
  --port <n>          port of the shop API (default 4000)
  --metrics-port <n>  port of the metrics server (default 9091)
  --host <address>    address both servers bind (default 127.0.0.1)
  --no-traffic        do not send synthetic traffic
  --rate <n>          synthetic requests per second (default 20)
  --token <token>     require this bearer token on the metrics server and dashboard
  --database-url <url>
                      keep the shop's data in this PostgreSQL (postgres://user@host:5432/db; needs the
                      pg package) instead of in memory; either way the Databases row has data
  --database-schema <name>
                      schema of the shop's tables there, created when absent (default telemeter_demo)
  -h, --help          show this help
`;

function port(value: string | undefined, fallback: number, option: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new UsageError(`${option} must be a port from 0 to 65535`);
  return n;
}

/** `telemeter demo`: runs until SIGINT or SIGTERM, then shuts everything down and resolves with 0. */
export async function run(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      port: { type: 'string' },
      'metrics-port': { type: 'string' },
      host: { type: 'string' },
      traffic: { type: 'boolean', default: true },
      'no-traffic': { type: 'boolean' },
      rate: { type: 'string' },
      token: { type: 'string' },
      'database-url': { type: 'string' },
      'database-schema': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    io.stdout(HELP);
    return EXIT.ok;
  }
  const rate = values.rate === undefined ? 20 : Number(values.rate);
  if (!(rate > 0 && rate <= 1000)) throw new UsageError('--rate must be a number from 1 to 1000');
  if (values.token !== undefined && values.token.length < 8) {
    throw new UsageError('--token must be at least 8 characters');
  }
  const databaseUrl = values['database-url'];
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new UsageError('--database-url must be a postgres:// or postgresql:// URL');
  }
  const databaseSchema = values['database-schema'];
  if (databaseSchema !== undefined && !SCHEMA_NAME.test(databaseSchema)) {
    throw new UsageError('--database-schema must be a lower-case name of letters, digits and _');
  }
  if (databaseSchema !== undefined && databaseUrl === undefined) {
    throw new UsageError('--database-schema needs --database-url');
  }
  const demo = await startDemo({
    port: port(values.port, 4000, '--port'),
    metricsPort: port(values['metrics-port'], 9091, '--metrics-port'),
    host: values.host ?? '127.0.0.1',
    traffic: values['no-traffic'] !== true && values.traffic !== false,
    trafficRate: rate,
    token: values.token,
    databaseUrl,
    databaseSchema,
  });
  const auth = values.token === undefined ? '' : ` (send "Authorization: Bearer ${values.token}")`;
  io.stdout(`telemeter demo is running
  shop API         ${demo.shopUrl}/products
  metrics          ${demo.metricsUrl}${auth}
  live dashboard   ${demo.metricsServer.url.replace(/\/metrics$/, '')}/dashboard${values.token === undefined ? '' : `?token=${encodeURIComponent(values.token)}`}
  database         ${demo.database}
  synthetic traffic ${demo.traffic === undefined ? 'off' : `on, ${rate} requests/s (--no-traffic turns it off)`}
Press Ctrl-C to stop.
`);
  await new Promise<void>((resolve) => {
    const shutdown = () => {
      process.off('SIGINT', shutdown);
      process.off('SIGTERM', shutdown);
      resolve();
    };
    process.on('SIGINT', shutdown);
    process.on('SIGTERM', shutdown);
  });
  io.stdout('stopping...\n');
  await demo.stop();
  io.stdout('stopped.\n');
  return EXIT.ok;
}
