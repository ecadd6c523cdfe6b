/**
 * A real Pushgateway (Debian's `prometheus-pushgateway`) on a free loopback port, holding its groups in memory
 * only, started so that it cannot outlive the test process (test/e2e/child-process.ts: a bounded stop, an exit
 * hook and a watchdog).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type ChildHandle, startChild } from '../e2e/child-process.js';
import { freePort, PUSHGATEWAY } from './tools.js';

/** One group as the gateway's `/api/v1/metrics` lists it. */
export interface GatewayGroup {
  readonly labels: Record<string, string>;
  /** Family name → its samples' labels and values (as strings, the gateway's own rendering). */
  readonly families: Record<string, { type: string; metrics: Array<Record<string, unknown>> }>;
}

export interface PushgatewayHandle {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** `127.0.0.1:<port>`, for a Prometheus scrape target. */
  readonly target: string;
  /** Every group the gateway holds, from `/api/v1/metrics`. */
  groups(): Promise<GatewayGroup[]>;
  /** The group whose grouping labels (job included) are exactly `labels`, or undefined. */
  group(labels: Record<string, string>): Promise<GatewayGroup | undefined>;
  /** The gateway's own `/metrics` page. */
  metricsPage(): Promise<string>;
  /** Everything the gateway logged so far. */
  logs(): string;
  stop(): Promise<void>;
}

const READY_ATTEMPTS = 100;
const REQUEST_TIMEOUT_MS = 5_000;

/** Starts a Pushgateway; resolves once `/-/ready` answers 200. A port taken in between is retried. */
export async function startPushgateway(): Promise<PushgatewayHandle> {
  let lastFailure: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const child = startChild(
      PUSHGATEWAY,
      [`--web.listen-address=127.0.0.1:${port}`, '--persistence.file=', '--log.level=warn'],
      { name: 'prometheus-pushgateway' },
    );
    try {
      await waitReady(child, `http://127.0.0.1:${port}`);
      return handle(child, port);
    } catch (error) {
      await child.stop('SIGKILL');
      lastFailure = error as Error;
      if (!/address already in use/i.test(child.stderr())) break;
    }
  }
  throw lastFailure ?? new Error('startPushgateway failed');
}

async function waitReady(child: ChildHandle, url: string): Promise<void> {
  for (let attempt = 0; attempt < READY_ATTEMPTS; attempt++) {
    if (child.exit() !== undefined) {
      throw new Error(`prometheus-pushgateway exited early:\n${child.stderr()}`);
    }
    const ready = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) }).then(
      async (response) => {
        await response.arrayBuffer();
        return response.status === 200;
      },
      () => false,
    );
    if (ready) return;
    await sleep(100);
  }
  throw new Error(`prometheus-pushgateway was not ready after ${READY_ATTEMPTS} tries:\n${child.stderr()}`);
}

function handle(child: ChildHandle, port: number): PushgatewayHandle {
  const url = `http://127.0.0.1:${port}`;
  const groups = async (): Promise<GatewayGroup[]> => {
    const response = await fetch(`${url}/api/v1/metrics`, {
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const answer = (await response.json()) as { status: string; data: Array<Record<string, any>> };
    if (answer.status !== 'success') throw new Error(`/api/v1/metrics: ${JSON.stringify(answer)}`);
    return answer.data.map(({ labels, last_push_successful: _ok, ...families }) => ({ labels, families }));
  };
  return {
    url,
    target: `127.0.0.1:${port}`,
    groups,
    async group(labels) {
      const wanted = JSON.stringify(Object.entries(labels).sort());
      return (await groups()).find((g) => JSON.stringify(Object.entries(g.labels).sort()) === wanted);
    },
    async metricsPage() {
      const response = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      return response.text();
    },
    logs: () => child.stderr(),
    async stop() {
      await child.stop('SIGTERM', 5_000);
    },
  };
}
