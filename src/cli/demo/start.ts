import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type LiveDashboard, mountDashboard } from '../../dashboard/index.js';
import { TelemeterError } from '../../errors.js';
import { httpMetrics, instrumentHttpServer } from '../../http/index.js';
import { checkOptionKeys } from '../../options.js';
import { instrumentRuntime, runtimeMetrics } from '../../runtime/index.js';
import { type MetricsServer, serveMetrics } from '../../server/index.js';
import { Telemeter } from '../../telemeter.js';
import { articleMetrics } from './article-metrics.js';
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
}

const KNOWN_OPTIONS = ['port', 'metricsPort', 'host', 'traffic', 'trafficRate', 'token', 'pollPeriod'];

/** A running demo. */
export interface Demo {
  readonly telemeter: Telemeter;
  readonly shopUrl: string;
  readonly metricsServer: MetricsServer;
  readonly metricsUrl: string;
  readonly traffic: Traffic | undefined;
  /** The live dashboard, mounted at `/dashboard` on the metrics server. */
  readonly dashboard: LiveDashboard;
  /** Stops traffic, the dashboard's sampler, both servers, the runtime poller, and detaches the Telemeter. */
  stop(): Promise<void>;
}

/** Every metric the demo defines: HTTP, runtime, and the article's own list. */
export function demoMetrics() {
  return [...httpMetrics(), ...runtimeMetrics(), ...articleMetrics()];
}

/**
 * The article end to end, in one process: the example shop on `port`, instrumented with `httpMetrics()`,
 * `runtimeMetrics()` and the article's metric list, and the private metrics server on `metricsPort`.
 *
 * @throws TelemeterTypeError `ERR_TELEMETER_UNKNOWN_OPTION` naming the option and the closest valid key; the
 *   errors of `serveMetrics`, `instrumentRuntime` and `mountDashboard` for their options.
 * @throws TelemeterError `ERR_TELEMETER_LISTEN` when the shop cannot bind its port (`cause`: the system error).
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
  } = options;
  const telemeter = new Telemeter({ metrics: demoMetrics(), globalTags: { service: 'shop' } });
  const runtime = instrumentRuntime({ period: options.pollPeriod ?? 5000 });
  const shop = createShop();
  const uninstall = instrumentHttpServer(shop, { route: [...SHOP_ROUTES] });
  try {
    await listen(shop, port, host);
  } catch (error) {
    uninstall();
    runtime.stop();
    telemeter.close();
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
    telemeter.close();
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
    dashboard,
    async stop() {
      dashboard.stop();
      await running?.stop();
      shop.closeAllConnections();
      await Promise.all([new Promise((resolve) => shop.close(resolve)), server.close()]);
      uninstall();
      runtime.stop();
      telemeter.close();
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
