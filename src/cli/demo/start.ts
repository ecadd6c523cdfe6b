import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type LiveDashboard, mountDashboard } from '../../dashboard/index.js';
import { invalidOption, TelemeterError } from '../../errors.js';
import { httpMetrics, instrumentHttpServer } from '../../http/index.js';
import { checkOptionKeys } from '../../options.js';
import { pgMetrics } from '../../pg/metrics.js';
import { instrumentRuntime, runtimeMetrics } from '../../runtime/index.js';
import { type MetricsServer, serveMetrics } from '../../server/index.js';
import { Telemeter } from '../../telemeter.js';
import { articleMetrics } from './article-metrics.js';
import { createMemoryRepository } from './memory-store.js';
import { DEFAULT_DEMO_SCHEMA, openPostgresRepository, SCHEMA_NAME } from './postgres-store.js';
import { emitRepoQueryEvents, type ShopRepository } from './repository.js';
import { createShop, SHOP_ROUTES } from './shop.js';
import { startTraffic, type Traffic } from './traffic.js';

/** Options of {@link startDemo}. */
export interface DemoOptions {
  /** Port of the shop API. Default 4000; 0 picks a free port. */
  readonly port?: number;
  /** Port of the metrics server. Default 9091; 0 picks a free port. */
  readonly metricsPort?: number;
  /** Address both servers bind. Default `127.0.0.1`. */
  readonly host?: string;
  /** Send synthetic traffic to the shop. Default true. */
  readonly traffic?: boolean;
  /** Requests per second of the synthetic traffic. Default 20. */
  readonly trafficRate?: number;
  /** Bearer token required by the metrics server (and its dashboard). Default: none. */
  readonly token?: string;
  /** Runtime poll period in ms. Default 5000. */
  readonly pollPeriod?: number;
  /**
   * `postgres://…` URL of a real PostgreSQL for the shop's data (needs the `pg` package). Default: none, the
   * shop keeps its data in memory and reports its statements as PostgreSQL would.
   */
  readonly databaseUrl?: string;
  /** Schema of the shop's tables in that database, created when absent. Default `telemeter_demo`. */
  readonly databaseSchema?: string;
}

const KNOWN_OPTIONS = [
  'port',
  'metricsPort',
  'host',
  'traffic',
  'trafficRate',
  'token',
  'pollPeriod',
  'databaseUrl',
  'databaseSchema',
];

/** A running demo. */
export interface Demo {
  readonly telemeter: Telemeter;
  readonly shopUrl: string;
  readonly metricsServer: MetricsServer;
  readonly metricsUrl: string;
  readonly traffic: Traffic | undefined;
  /** Where the shop's data lives: `memory`, or the PostgreSQL database (without credentials). */
  readonly database: string;
  /** The live dashboard, mounted at `/dashboard` on the metrics server. */
  readonly dashboard: LiveDashboard;
  /**
   * Stops traffic, the dashboard's sampler, both servers, the runtime poller, detaches the Telemeter, and
   * closes the database pool.
   */
  stop(): Promise<void>;
}

/** Every metric the demo defines: HTTP, runtime, PostgreSQL (`pgMetrics()`), and the article's own list. */
export function demoMetrics() {
  return [...httpMetrics(), ...runtimeMetrics(), ...pgMetrics(), ...articleMetrics()];
}

/**
 * The article end to end, in one process: the example shop on `port`, instrumented with `httpMetrics()`,
 * `runtimeMetrics()`, `pgMetrics()` and the article's metric list, and the private metrics server on
 * `metricsPort`. The shop's data is in memory unless `databaseUrl` names a PostgreSQL.
 *
 * @throws TelemeterTypeError `ERR_TELEMETER_UNKNOWN_OPTION` naming the option and the closest valid key; the
 *   errors of `serveMetrics`, `instrumentRuntime` and `mountDashboard` for their options.
 * @throws TelemeterError `ERR_TELEMETER_LISTEN` when the shop cannot bind its port (`cause`: the system error);
 *   `ERR_TELEMETER_MISSING_DEPENDENCY` when `databaseUrl` is given and pg is not installed;
 *   `ERR_TELEMETER_INVALID_OPTION` when that database cannot be reached or set up.
 */
export async function startDemo(options: DemoOptions = {}): Promise<Demo> {
  checkOptionKeys('telemeter demo: startDemo', options, KNOWN_OPTIONS);
  const {
    port = 4000,
    metricsPort = 9091,
    host = '127.0.0.1',
    traffic = true,
    trafficRate = 20,
    token,
    databaseUrl,
    databaseSchema = DEFAULT_DEMO_SCHEMA,
  } = options;
  if (
    databaseUrl !== undefined &&
    (typeof databaseUrl !== 'string' || !/^postgres(ql)?:\/\//.test(databaseUrl))
  ) {
    invalidOption('telemeter demo: startDemo: option databaseUrl must be a postgres:// or postgresql:// URL');
  }
  if (typeof databaseSchema !== 'string' || !SCHEMA_NAME.test(databaseSchema)) {
    invalidOption(
      'telemeter demo: startDemo: option databaseSchema must be a lower-case name of letters, digits and _',
    );
  }
  const repository: ShopRepository =
    databaseUrl === undefined
      ? createMemoryRepository()
      : await openPostgresRepository(databaseUrl, databaseSchema);
  const telemeter = new Telemeter({ metrics: demoMetrics(), globalTags: { service: 'shop' } });
  const stopRepoEvents = emitRepoQueryEvents();
  const runtime = instrumentRuntime({ period: options.pollPeriod ?? 5000 });
  const shop = createShop(repository);
  const uninstall = instrumentHttpServer(shop, { route: [...SHOP_ROUTES] });
  try {
    await listen(shop, port, host);
  } catch (error) {
    uninstall();
    runtime.stop();
    stopRepoEvents();
    telemeter.close();
    await repository.close();
    throw new TelemeterError(
      'ERR_TELEMETER_LISTEN',
      `telemeter demo: the shop API cannot listen on ${host.includes(':') ? `[${host}]` : host}:${port}: ${(error as Error).message}; choose another port with --port`,
      { cause: error },
    );
  }
  const shopPort = (shop.address() as AddressInfo).port;
  const shopUrl = `http://${urlHost(host)}:${shopPort}`;

  let metricsServer: MetricsServer | undefined;
  let dashboard: LiveDashboard;
  try {
    metricsServer = await serveMetrics(telemeter, {
      port: metricsPort,
      host,
      auth: token === undefined ? undefined : { bearer: token },
    });
    dashboard = mountDashboard(metricsServer, telemeter, { title: 'telemeter demo' });
  } catch (error) {
    shop.close();
    await metricsServer?.close();
    runtime.stop();
    stopRepoEvents();
    telemeter.close();
    await repository.close();
    throw error;
  }
  const server = metricsServer;
  const running = traffic ? startTraffic(shopUrl, trafficRate) : undefined;

  return {
    telemeter,
    shopUrl,
    metricsServer: server,
    metricsUrl: `${server.url}`,
    traffic: running,
    database: repository.description,
    dashboard,
    async stop() {
      dashboard.stop();
      await running?.stop();
      shop.closeAllConnections();
      await Promise.all([new Promise((resolve) => shop.close(resolve)), server.close()]);
      uninstall();
      runtime.stop();
      stopRepoEvents();
      telemeter.close();
      await repository.close();
    },
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function urlHost(host: string): string {
  if (host === '::' || host === '0.0.0.0') return 'localhost';
  return host.includes(':') ? `[${host}]` : host;
}
