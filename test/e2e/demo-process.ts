/** `telemeter demo` as a child process, started the way a user starts it, with its URLs read from its output. */
import { fileURLToPath } from 'node:url';
import { type ChildHandle, startChild } from './child-process.js';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface DemoProcess {
  readonly process: ChildHandle;
  /** `http://127.0.0.1:<port>`, without a path. */
  readonly shopUrl: string;
  /** `http://127.0.0.1:<port>/metrics`. */
  readonly metricsUrl: string;
  /** `127.0.0.1:<port>` of the metrics server, as a Prometheus target. */
  readonly metricsTarget: string;
}

/**
 * Runs `node --import tsx src/cli/main.ts demo --no-traffic --port 0 --metrics-port 0 --host 127.0.0.1`
 * (what `npm run demo -- --no-traffic ...` runs) and waits for its banner.
 */
export async function startDemoProcess(extraArgs: readonly string[] = []): Promise<DemoProcess> {
  const child = startChild(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/cli/main.ts',
      'demo',
      '--no-traffic',
      '--port',
      '0',
      '--metrics-port',
      '0',
      '--host',
      '127.0.0.1',
      ...extraArgs,
    ],
    { name: 'telemeter demo', cwd: REPO_ROOT },
  );
  try {
    await child.waitForStdout(/Press Ctrl-C to stop/);
  } catch (error) {
    await child.stop('SIGKILL');
    throw error;
  }
  const shop = /shop API\s+(http:\/\/127\.0\.0\.1:\d+)\/products/.exec(child.stdout());
  const metrics = /metrics\s+(http:\/\/127\.0\.0\.1:(\d+)\/metrics)/.exec(child.stdout());
  if (shop === null || metrics === null) {
    await child.stop('SIGKILL');
    throw new Error(`unexpected demo banner:\n${child.stdout()}`);
  }
  return {
    process: child,
    shopUrl: shop[1],
    metricsUrl: metrics[1],
    metricsTarget: `127.0.0.1:${metrics[2]}`,
  };
}
