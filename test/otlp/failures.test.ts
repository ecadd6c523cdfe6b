/**
 * A receiver that is down, slow, or answers 429/503 (with Retry-After) or 400: what is queued within the bound
 * arrives once the receiver is back, in order; the overflow is dropped and counted; refusals are not retried;
 * the application never waits (flush resolves false after exportTimeout, recording stays synchronous, and the
 * timer does not keep a process alive). Counts are asserted, never durations.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { execute, type MetricFamily, sum, Telemeter } from '../../src/index.js';
import { otlpMetrics, startOtlp } from '../../src/otlp/index.js';
import { backoffMs, retryAfterMs } from '../../src/otlp/transport.js';
import { ExportMetricsServiceResponse, OtlpReceiver } from './receiver.js';

const EVENT = 'otlp.failures.job';
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function newTelemeter(): Telemeter {
  const telemeter = new Telemeter({
    metrics: [sum('otlp.failures.jobs', { eventName: EVENT, measurement: 'n' }), ...otlpMetrics()],
    selfMetrics: false,
  });
  cleanups.push(() => telemeter.close());
  return telemeter;
}

async function receiverOn(port = 0): Promise<OtlpReceiver> {
  const receiver = await OtlpReceiver.start(port);
  cleanups.push(() => receiver.close());
  return receiver;
}

/** A port nothing listens on: a receiver started and closed. */
async function closedPort(): Promise<number> {
  const receiver = await OtlpReceiver.start();
  const port = receiver.port;
  await receiver.close();
  return port;
}

/** The value of `name` (with labels `labels`) in the Telemeter now, or undefined. */
function sampleValue(
  telemeter: Telemeter,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  telemeter.refreshComputedFamilies();
  const family = telemeter.metricFamilies.find((f) => f.name === name) as MetricFamily | undefined;
  if (family === undefined || (family.kind !== 'counter' && family.kind !== 'gauge')) return undefined;
  for (let id = 0; id < family.seriesIdLimit; id++) {
    if (!family.holds(id)) continue;
    const seen: Record<string, string> = {};
    family.forEachLabel(id, (k, v) => {
      seen[k] = v;
    });
    if (Object.entries(labels).every(([k, v]) => seen[k] === v)) return family.value(id);
  }
  return undefined;
}

/** Exports made while the receiver is down: queued, or dropped for room. */
function exportsMade(telemeter: Telemeter, push: { queued: number }): number {
  return (
    push.queued +
    (sampleValue(telemeter, 'telemeter_otlp_dropped_exports_total', { reason: 'queue_full' }) ?? 0)
  );
}

/** Counter values of `otlp_failures_jobs_total` in each accepted export, in arrival order. */
function jobValues(receiver: OtlpReceiver): number[] {
  return receiver
    .points()
    .filter((p) => p.name === 'otlp_failures_jobs_total')
    .map((p) => p.point.asDouble);
}

async function until(condition: () => boolean, what: string, limitMs = 20_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const FAST_RETRY = { retryDelay: 5, maxRetryDelay: 40, interval: 3_600_000, env: {} } as const;

describe('a receiver that is down', () => {
  it('keeps the newest exports within the bound, drops and counts the rest, and delivers the kept ones in order when it is back', async () => {
    const port = await closedPort();
    const telemeter = newTelemeter();
    const push = startOtlp(telemeter, {
      ...FAST_RETRY,
      url: `http://127.0.0.1:${port}/v1/metrics`,
      maxQueuedExports: 3,
      exportTimeout: 50,
    });
    cleanups.push(() => push.stop());
    for (let i = 1; i <= 6; i++) {
      execute(EVENT, { n: 1 }, {});
      // The application never waits: each flush gives up after exportTimeout and reports it.
      expect(await push.flush()).toBe(false);
      await until(() => exportsMade(telemeter, push) === i, `export ${i} to be queued`);
    }
    expect(push.queued).toBe(3);
    expect(sampleValue(telemeter, 'telemeter_otlp_dropped_exports_total', { reason: 'queue_full' })).toBe(3);
    expect(sampleValue(telemeter, 'telemeter_otlp_queued_exports')).toBe(3);
    expect(
      sampleValue(telemeter, 'telemeter_otlp_export_failures_total', { reason: 'network' }),
    ).toBeGreaterThan(0);
    expect(sampleValue(telemeter, 'telemeter_otlp_exports_total')).toBe(0);

    const receiver = await receiverOn(port);
    await until(() => push.queued === 0, 'the queue to drain');
    // The oldest in flight when the queue filled is kept (it may have been sent already), then the newest two.
    expect(jobValues(receiver)).toEqual([1, 5, 6]);
    expect(await push.flush()).toBe(true);
    expect(jobValues(receiver).at(-1)).toBe(6);
    expect(sampleValue(telemeter, 'telemeter_otlp_exports_total')).toBe(4);
  });

  it('loses nothing of a delta stream within the bound: the changes received add up to the total', async () => {
    const port = await closedPort();
    const telemeter = newTelemeter();
    const push = startOtlp(telemeter, {
      ...FAST_RETRY,
      url: `http://127.0.0.1:${port}/v1/metrics`,
      temporality: 'delta',
      maxQueuedExports: 10,
      exportTimeout: 20,
    });
    cleanups.push(() => push.stop());
    for (let i = 1; i <= 5; i++) {
      execute(EVENT, { n: i }, {});
      await push.flush();
      await until(() => exportsMade(telemeter, push) === i, `export ${i} to be queued`);
    }
    expect(push.queued).toBe(5);
    const receiver = await receiverOn(port);
    await until(() => push.queued === 0, 'the queue to drain');
    expect(jobValues(receiver)).toEqual([1, 2, 3, 4, 5]);
    expect(
      sampleValue(telemeter, 'telemeter_otlp_dropped_exports_total', { reason: 'queue_full' }),
    ).toBeUndefined();
  });

  it('bounds the queue by bytes as well', async () => {
    const port = await closedPort();
    const telemeter = newTelemeter();
    const push = startOtlp(telemeter, {
      ...FAST_RETRY,
      url: `http://127.0.0.1:${port}/v1/metrics`,
      maxQueuedBytes: 1,
      exportTimeout: 20,
    });
    cleanups.push(() => push.stop());
    execute(EVENT, { n: 1 }, {});
    await push.flush();
    await push.flush();
    await until(() => exportsMade(telemeter, push) === 2, 'both exports to be made');
    // Every export is more than a byte: none can be held, each is dropped as it comes, and counted.
    expect(push.queued).toBe(0);
    expect(sampleValue(telemeter, 'telemeter_otlp_dropped_exports_total', { reason: 'queue_full' })).toBe(2);
    expect(sampleValue(telemeter, 'telemeter_otlp_queued_bytes')).toBe(0);
  });

  it('stop() gives up after exportTimeout, drops what is queued and counts it as stopped', async () => {
    const port = await closedPort();
    const telemeter = newTelemeter();
    const push = startOtlp(telemeter, {
      ...FAST_RETRY,
      url: `http://127.0.0.1:${port}/v1/metrics`,
      exportTimeout: 30,
    });
    execute(EVENT, { n: 1 }, {});
    expect(await push.stop()).toBe(false);
    expect(push.queued).toBe(0);
    expect(sampleValue(telemeter, 'telemeter_otlp_dropped_exports_total', { reason: 'stopped' })).toBe(1);
    // Idempotent, and flush after stop is stop's answer.
    expect(await push.stop()).toBe(false);
    expect(await push.flush()).toBe(false);
  });
});

describe('a receiver that answers 429 or 503, or 400', () => {
  it('retries 429 and 503 until accepted, and counts each failed attempt by status', async () => {
    const receiver = await receiverOn();
    receiver.answer = (n) => ({ status: n === 0 ? 429 : n === 1 ? 503 : 200 });
    const telemeter = newTelemeter();
    const push = startOtlp(telemeter, { ...FAST_RETRY, url: receiver.url });
    cleanups.push(() => push.stop());
    execute(EVENT, { n: 7 }, {});
    expect(await push.flush()).toBe(true);
    expect(receiver.requests).toBe(3);
    expect(jobValues(receiver)).toEqual([7]);
    expect(sampleValue(telemeter, 'telemeter_otlp_export_failures_total', { reason: '429' })).toBe(1);
    expect(sampleValue(telemeter, 'telemeter_otlp_export_failures_total', { reason: '503' })).toBe(1);
  });

  it('waits as long as Retry-After asks, not its own shorter backoff', async () => {
    const receiver = await receiverOn();
    receiver.answer = (n) => (n === 0 ? { status: 503, headers: { 'retry-after': '1' } } : { status: 200 });
    const telemeter = newTelemeter();
    const push = startOtlp(telemeter, { ...FAST_RETRY, url: receiver.url });
    cleanups.push(() => push.stop());
    execute(EVENT, { n: 1 }, {});
    const delivered = push.flush();
    await until(() => receiver.requests === 1, 'the first request');
    // The own backoff (5-40 ms) would have retried several times by now; Retry-After: 1 holds it back.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receiver.requests).toBe(1);
    expect(await delivered).toBe(true);
    expect(receiver.requests).toBe(2);
  });

  it('drops an export the receiver refuses with 400, without retrying it', async () => {
    const receiver = await receiverOn();
    receiver.answer = (n) => ({ status: n === 0 ? 400 : 200, body: 'bad data' });
    const telemeter = newTelemeter();
    const push = startOtlp(telemeter, { ...FAST_RETRY, url: receiver.url });
    cleanups.push(() => push.stop());
    execute(EVENT, { n: 1 }, {});
    expect(await push.flush()).toBe(false);
    expect(receiver.requests).toBe(1);
    expect(sampleValue(telemeter, 'telemeter_otlp_dropped_exports_total', { reason: 'rejected' })).toBe(1);
    expect(sampleValue(telemeter, 'telemeter_otlp_export_failures_total', { reason: '400' })).toBe(1);
    expect(await push.flush()).toBe(true);
  });
});

describe('a partial success', () => {
  it.each([
    [
      'protobuf',
      'application/x-protobuf',
      ExportMetricsServiceResponse.encode(
        ExportMetricsServiceResponse.fromObject({
          partialSuccess: { rejectedDataPoints: 2, errorMessage: 'too old' },
        }),
      ).finish(),
    ],
    [
      'JSON',
      'application/json',
      JSON.stringify({ partialSuccess: { rejectedDataPoints: '2', errorMessage: 'too old' } }),
    ],
  ])('in %s is not retried; its rejected points are counted as dropped', async (_format, type, body) => {
    const receiver = await receiverOn();
    receiver.answer = () => ({ status: 200, headers: { 'content-type': type }, body });
    const telemeter = newTelemeter();
    const push = startOtlp(telemeter, { ...FAST_RETRY, url: receiver.url });
    cleanups.push(() => push.stop());
    execute(EVENT, { n: 1 }, {});
    expect(await push.flush()).toBe(true);
    expect(receiver.requests).toBe(1);
    expect(sampleValue(telemeter, 'telemeter_otlp_dropped_data_points_total', { reason: 'rejected' })).toBe(
      2,
    );
    expect(sampleValue(telemeter, 'telemeter_otlp_exports_total')).toBe(1);
  });

  it('an empty or foreign 200 body is a full success', async () => {
    const { partialSuccess } = await import('../../src/otlp/transport.js');
    expect(partialSuccess(new Uint8Array(), 'application/x-protobuf')).toEqual({ rejected: 0, message: '' });
    expect(partialSuccess(new TextEncoder().encode('<html>'), 'text/html')).toEqual({
      rejected: 0,
      message: '',
    });
    expect(partialSuccess(new TextEncoder().encode('{}'), 'application/json')).toEqual({
      rejected: 0,
      message: '',
    });
  });
});

describe('a slow receiver', () => {
  it('abandons a request after timeout and retries it; recording never waits', async () => {
    const receiver = await receiverOn();
    receiver.answer = (n) => ({ status: 200, delayMs: n === 0 ? 5_000 : 0 });
    const telemeter = newTelemeter();
    const push = startOtlp(telemeter, { ...FAST_RETRY, url: receiver.url, timeout: 100 });
    cleanups.push(() => push.stop());
    execute(EVENT, { n: 1 }, {});
    const delivered = push.flush();
    await until(() => receiver.requests === 1, 'the first request');
    // While the request hangs, events are recorded at once.
    execute(EVENT, { n: 1 }, {});
    expect(sampleValue(telemeter, 'otlp_failures_jobs_total')).toBe(2);
    expect(await delivered).toBe(true);
    expect(sampleValue(telemeter, 'telemeter_otlp_export_failures_total', { reason: 'timeout' })).toBe(1);
    expect(receiver.accepted).toHaveLength(1);
  });
});

describe('the process', () => {
  it('exits on its own while an exporter retries an unreachable receiver (the timers are unref’d)', async () => {
    const port = await closedPort();
    const script = `
      import { counter, execute, Telemeter } from './src/index.ts';
      import { startOtlp } from './src/otlp/index.ts';
      const telemeter = new Telemeter({ metrics: [counter('a.b', { eventName: 'a', measurement: 'n' })] });
      startOtlp(telemeter, { url: 'http://127.0.0.1:${port}/v1/metrics', interval: 5, retryDelay: 5, env: {} });
      execute('a', { n: 1 }, {});
      setTimeout(() => console.log('done'), 200);
    `;
    const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(result.error).toBeUndefined();
    expect(result.stdout.trim()).toBe('done');
    expect(result.status).toBe(0);
  });
});

describe('a script that awaits flush()', () => {
  it("stays alive through the retries until its data is delivered (a batch job's last line)", async () => {
    const receiver = await receiverOn();
    receiver.answer = (n) => ({ status: n < 2 ? 503 : 200 });
    const script = `
      import { counter, execute, Telemeter } from './src/index.ts';
      import { startOtlp } from './src/otlp/index.ts';
      const telemeter = new Telemeter({ metrics: [counter('a.b', { eventName: 'a', measurement: 'n' })] });
      const otlp = startOtlp(telemeter, { url: '${receiver.url}', retryDelay: 50, env: {} });
      execute('a', { n: 1 }, {});
      console.log(await otlp.flush());
    `;
    // Asynchronous, so the receiver in this process can answer.
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const [code] = await once(child, 'exit');
    clearTimeout(timer);
    expect(stdout.trim()).toBe('true');
    expect(code).toBe(0);
    expect(receiver.requests).toBe(3);
  });
});

describe('retry timing rules', () => {
  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs('3', now)).toBe(3000);
    expect(retryAfterMs('Thu, 01 Jan 2026 00:00:10 GMT', now)).toBe(10_000);
    expect(retryAfterMs('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs(null, now)).toBeUndefined();
  });

  it('doubles the backoff up to the maximum, less up to half of it as jitter', () => {
    expect(backoffMs(1, 100, 1000, () => 0)).toBe(100);
    expect(backoffMs(3, 100, 1000, () => 0)).toBe(400);
    expect(backoffMs(10, 100, 1000, () => 0)).toBe(1000);
    expect(backoffMs(3, 100, 1000, () => 1)).toBe(200);
  });
});
