/**
 * telemeter/otlp on Bun, Deno and Cloudflare's workerd, from the installed package, pushing to a receiver in this
 * process that decodes with the official opentelemetry-proto files: every kind arrives with the values recorded;
 * Bun and Deno end on their own with the exporter still running (its timer does not hold them); Deno runs without
 * --allow-env; the Worker starts the exporter at its module's top level (where timers and random values are
 * refused) and exports through flush() in its requests, gzip through CompressionStream included.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChildHandle, startChild } from '../e2e/child-process.js';
import { attributesOf, type DecodedRequest, OtlpReceiver } from '../otlp/receiver.js';
import {
  bundleFixture,
  ensureRuntimes,
  installedPackage,
  ROOT,
  removeInstalledPackage,
} from '../support/runtimes.js';
import { freePort, runTool } from '../support/tools.js';

const runtimes = await ensureRuntimes();
const fixture = (name: string) => join(ROOT, 'test/runtimes/fixtures', `${name}.ts`);
/** Loopback only, and no --allow-env: the exporter must read no variable it is refused. */
const DENO_RUN = ['run', '--no-prompt', '--allow-net=127.0.0.1'];

let app: string;
let receiver: OtlpReceiver;
const children: ChildHandle[] = [];

beforeAll(async () => {
  if (runtimes === undefined) return;
  receiver = await OtlpReceiver.start();
  app = await installedPackage();
  await Promise.all([
    bundleFixture(app, fixture('otlp-push'), 'otlp-push'),
    bundleFixture(app, fixture('otlp-worker'), 'otlp-worker', { worker: true }),
  ]);
}, 180_000);

afterAll(async () => {
  await Promise.all(children.map((child) => child.stop('SIGKILL')));
  await receiver?.close();
  removeInstalledPackage(app);
});

/** The accepted requests whose resource has `service.name` = `service`. */
function requestsOf(service: string): DecodedRequest[] {
  return receiver.accepted
    .map((r) => r.decoded)
    .filter((decoded) =>
      decoded.resourceMetrics[0].resource.attributes.some(
        (a: DecodedRequest) => a.key === 'service.name' && a.value.stringValue === service,
      ),
    );
}

/** Checks one request against the jobs of otlp-app.ts recorded `times` times. */
function expectJobs(request: DecodedRequest, times: number): void {
  const metrics = new Map<string, DecodedRequest>(
    request.resourceMetrics[0].scopeMetrics[0].metrics.map((m: DecodedRequest) => [m.name, m]),
  );
  const byQueue = (points: DecodedRequest[]) =>
    Object.fromEntries(points.map((p) => [attributesOf(p).queue ?? '', p]));

  const jobs = metrics.get('runtime_otlp_jobs_total').sum;
  expect(jobs.isMonotonic).toBe(true);
  expect(jobs.aggregationTemporality).toBe(2);
  const jobPoints = byQueue(jobs.dataPoints);
  expect(jobPoints.mail.asDouble).toBe(2 * times);
  expect(jobPoints.sms.asDouble).toBe(1 * times);
  expect(BigInt(jobPoints.mail.startTimeUnixNano)).toBeGreaterThan(0n);

  const pending = metrics.get('runtime_otlp_pending').sum;
  expect(pending.isMonotonic ?? false).toBe(false);
  expect(pending.dataPoints[0].asDouble).toBe(1 * times);

  const size = byQueue(metrics.get('runtime_otlp_size').gauge.dataPoints);
  expect(size.mail.asDouble).toBe(20);
  expect(size.sms.asDouble).toBe(30);

  const [histogram] = metrics.get('runtime_otlp_duration_seconds').histogram.dataPoints;
  expect(metrics.get('runtime_otlp_duration_seconds').unit).toBe('s');
  expect(Number(histogram.count)).toBe(3 * times);
  expect(histogram.sum).toBeCloseTo(2.55 * times, 9);
  expect(histogram.explicitBounds).toEqual([0.1, 1]);
  expect(histogram.bucketCounts.map(Number)).toEqual([times, times, times]);

  const [summary] = metrics.get('runtime_otlp_bytes').summary.dataPoints;
  expect(Number(summary.count)).toBe(3 * times);
  expect(summary.sum).toBe(60 * times);
  expect(summary.quantileValues[0].quantile).toBe(0.5);
  expect(Math.abs(summary.quantileValues[0].value - 20) / 20).toBeLessThan(0.011);
}

describe.skipIf(runtimes === undefined)('telemeter/otlp on Bun, Deno and workerd', () => {
  it.each([
    ['bun', [] as string[]],
    ['deno', DENO_RUN],
  ])('%s pushes every kind, and ends on its own with the exporter running', async (name, args) => {
    const bin = runtimes![name as 'bun' | 'deno'];
    const run = await runTool(bin, [...args, join(app, 'otlp-push.mjs'), receiver.url, `on-${name}`], {
      timeoutMs: 30_000,
    });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim()).toBe('flushed true');
    const [first] = requestsOf(`on-${name}`);
    expect(first, `no export from ${name}`).toBeDefined();
    expectJobs(first, 1);
  });

  it('workerd starts the exporter at the top level and exports in requests through flush()', async () => {
    const port = await freePort();
    const config = join(app, 'otlp-workerd.capnp');
    writeFileSync(
      config,
      `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "app", worker = .app),
    (name = "receiver", external = (address = "127.0.0.1:${receiver.port}", http = ())),
  ],
  sockets = [ (name = "app", address = "127.0.0.1:${port}", http = (), service = "app") ],
);
const app :Workerd.Worker = (
  modules = [ (name = "otlp-worker.mjs", esModule = embed "otlp-worker.mjs") ],
  compatibilityDate = "2026-08-04",
  globalOutbound = "receiver",
);
`,
    );
    const child = startChild(runtimes!.workerd, ['serve', config], { name: 'workerd', cwd: app });
    children.push(child);
    const get = async (path: string) => {
      const deadline = Date.now() + 30_000;
      for (;;) {
        try {
          const response = await fetch(`http://127.0.0.1:${port}${path}`, {
            signal: AbortSignal.timeout(15_000),
          });
          return await response.text();
        } catch (error) {
          if (Date.now() > deadline)
            throw new Error(`workerd did not answer: ${child.stderr()}${String(error)}`);
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }
    };
    expect(await get('/healthz')).toBe('ok');
    expect(await get('/jobs')).toBe('flushed true');
    expect(await get('/jobs')).toBe('flushed true');
    const [first, second] = requestsOf('worker');
    expect(receiver.accepted.find((r) => r.decoded === first)?.headers['content-encoding']).toBe('gzip');
    expectJobs(first, 1);
    expectJobs(second, 2);
    // One stream: the second export repeats the first one's start.
    const start = (request: DecodedRequest) =>
      request.resourceMetrics[0].scopeMetrics[0].metrics[0].sum.dataPoints[0].startTimeUnixNano;
    expect(start(second)).toBe(start(first));
  });
});
