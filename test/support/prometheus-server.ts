/**
 * A real Prometheus (/usr/bin/prometheus) on loopback, scraping test targets.
 *
 * Timing: Prometheus 2.42 sends the first scrape ~5–6 s after start (the scrape manager's
 * discovery tick is hard-coded), then every `scrape_interval` (1 s here). `waitForTargets`
 * polls /api/v1/targets until every target has been scraped at least once.
 *
 * Cleanup: `stop()` sends SIGTERM, then SIGKILL after a few seconds, and removes the temp dir.
 * If the test process dies without calling stop(), an 'exit' hook kills Prometheus, and a tiny
 * watchdog (`sh` blocked reading a pipe from this process) kills it when the pipe closes, which
 * also covers the test process being killed by a signal.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { assertLoopbackHost, freePort, PROMETHEUS, PROMTOOL, runTool } from './tools.js';

export interface ScrapeJob {
  jobName: string;
  /** `host:port`, loopback only. */
  targets: string[];
  /** Path only, no query string (use `params`). Default `/metrics`. */
  metricsPath?: string;
  scheme?: 'http' | 'https';
  params?: Record<string, string[]>;
  /** Sent as `Authorization: Bearer <credentials>`. */
  authorization?: { credentials: string; type?: string };
  basicAuth?: { username: string; password: string };
  /** Write the targets into a file_sd JSON file instead of static_configs. */
  fileSd?: boolean;
  /** `tls_config.insecure_skip_verify: true` (for self-signed test certificates). */
  tlsInsecure?: boolean;
  /** Labels attached to this job's targets. */
  labels?: Record<string, string>;
  /** Extra keys merged into this job's scrape_config (e.g. `{ honor_labels: true }`). */
  extra?: Record<string, unknown>;
}

export interface StartPrometheusOptions {
  /** Global scrape (and rule evaluation) interval, default 1. */
  scrapeIntervalSeconds?: number;
  /** Global scrape timeout, default 1 (must not exceed the interval). */
  scrapeTimeoutSeconds?: number;
  /** Shallow-merged into the top level of the generated config. */
  extraConfig?: object;
  /** Paths of rule files (`rule_files`). */
  ruleFiles?: string[];
  /** Extra command-line flags, e.g. `['--enable-feature=exemplar-storage']`. */
  extraArgs?: string[];
  /** How long to wait for /-/ready. Default 30 s. */
  readyTimeoutMs?: number;
  /**
   * OpenMetrics samples (with timestamps, ending in `# EOF`) written into the TSDB before Prometheus starts,
   * with `promtool tsdb create-blocks-from openmetrics`: hours of history for range queries, in no time.
   */
  backfill?: string;
}

export interface ActiveTarget {
  discoveredLabels: Record<string, string>;
  labels: Record<string, string>;
  scrapePool: string;
  scrapeUrl: string;
  globalUrl: string;
  lastError: string;
  lastScrape: string;
  lastScrapeDuration: number;
  health: 'up' | 'down' | 'unknown';
  scrapeInterval: string;
  scrapeTimeout: string;
}

export interface PrometheusHandle {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  url: string;
  port: number;
  /** The generated configuration (also written as JSON to the temp dir). */
  config: Record<string, unknown>;
  /** Everything Prometheus wrote to stdout/stderr so far (capped at the last 1 MiB). */
  logs(): string;
  targets(): Promise<ActiveTarget[]>;
  /**
   * Poll until `pred(targets)` holds. The default waits until every configured target is listed
   * and has health `up` or `down` (i.e. has been scraped at least once). Default timeout 30 s.
   */
  waitForTargets(pred?: (targets: ActiveTarget[]) => boolean, timeoutMs?: number): Promise<ActiveTarget[]>;
  /**
   * Poll until the first target is `up` and has been scraped twice since `since` (epoch ms): `rate()` and
   * `increase()` need two samples that both saw what happened before `since`. Default 30 s.
   */
  waitForScrapesAfter(since: number, timeoutMs?: number): Promise<ActiveTarget[]>;
  /** Instant query; resolves with `data.result`. */
  query(promql: string): Promise<any>;
  /** First value of an instant query (vector or scalar); undefined when the result is empty. */
  queryValue(promql: string): Promise<number | undefined>;
  /** Poll an instant query until `pred(result)` holds; resolves with that result. Default 30 s. */
  waitForQuery(promql: string, pred: (result: any) => boolean, timeoutMs?: number): Promise<any>;
  /** `/api/v1/targets/metadata` for a job; resolves with `data` (array of metadata entries). */
  metadata(job: string): Promise<any>;
  stop(): Promise<void>;
}

const LOG_CAP = 1 << 20;
const POLL_MS = 250;
const REQUEST_TIMEOUT_MS = 5_000;

/** Every Prometheus this process started and has not yet stopped, for the exit hook. */
const live = new Map<number, { dir: string; dog?: ChildProcess }>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const [pid, { dir, dog }] of live) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
      try {
        dog?.kill('SIGKILL');
      } catch {}
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {}
    }
    live.clear();
  });
}

/**
 * `sh` that blocks on a pipe from us; when the pipe closes (we died, even by SIGKILL), it SIGKILLs
 * `pid` and removes `dir`. On a normal stop we SIGKILL the watchdog first, so it does nothing.
 */
function spawnWatchdog(pid: number, dir: string): ChildProcess {
  const script = 'cat >/dev/null; kill -KILL "$1" 2>/dev/null; sleep 1; rm -rf -- "$2"';
  const dog = spawn('/bin/sh', ['-c', script, 'prometheus-watchdog', String(pid), dir], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
  });
  dog.on('error', () => {});
  dog.stdin?.on('error', () => {});
  // Neither the watchdog nor its pipe may keep the test process alive.
  dog.unref();
  (dog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return dog;
}

function checkTarget(target: string): void {
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(target);
  if (!m) throw new Error(`Scrape target must be host:port, got "${target}"`);
  assertLoopbackHost(m[1]!);
}

function buildConfig(
  jobs: ScrapeJob[],
  opts: StartPrometheusOptions,
  dir: string,
): { config: Record<string, unknown>; files: Array<[string, string]> } {
  const interval = opts.scrapeIntervalSeconds ?? 1;
  const timeout = opts.scrapeTimeoutSeconds ?? Math.min(1, interval);
  const files: Array<[string, string]> = [];
  const names = new Set<string>();
  const scrapeConfigs = jobs.map((job, i) => {
    if (names.has(job.jobName)) throw new Error(`Duplicate jobName "${job.jobName}"`);
    names.add(job.jobName);
    job.targets.forEach(checkTarget);
    const metricsPath = job.metricsPath ?? '/metrics';
    if (metricsPath.includes('?') || metricsPath.includes('#')) {
      throw new Error(`metricsPath must not contain a query string or fragment (use params): ${metricsPath}`);
    }
    const sc: Record<string, unknown> = {
      job_name: job.jobName,
      metrics_path: metricsPath,
      scheme: job.scheme ?? 'http',
    };
    if (job.params) sc.params = job.params;
    if (job.authorization) {
      sc.authorization = {
        type: job.authorization.type ?? 'Bearer',
        credentials: job.authorization.credentials,
      };
    }
    if (job.basicAuth) sc.basic_auth = { username: job.basicAuth.username, password: job.basicAuth.password };
    if (job.tlsInsecure) sc.tls_config = { insecure_skip_verify: true };
    const group = { targets: job.targets, labels: job.labels ?? {} };
    if (job.fileSd) {
      const file = join(dir, `file_sd_${i}.json`);
      files.push([file, JSON.stringify([group], null, 2)]);
      sc.file_sd_configs = [{ files: [file], refresh_interval: '1s' }];
    } else {
      sc.static_configs = [group];
    }
    return { ...sc, ...(job.extra ?? {}) };
  });
  const config: Record<string, unknown> = {
    global: {
      scrape_interval: `${interval}s`,
      scrape_timeout: `${timeout}s`,
      evaluation_interval: `${interval}s`,
    },
    scrape_configs: scrapeConfigs,
  };
  if (opts.ruleFiles?.length) config.rule_files = opts.ruleFiles;
  return { config: { ...config, ...(opts.extraConfig ?? {}) }, files };
}

async function getJson(url: string): Promise<any> {
  const res = await fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  const text = await res.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`GET ${url}: HTTP ${res.status}, not JSON: ${text.slice(0, 500)}`);
  }
  if (!res.ok || body.status !== 'success') {
    throw new Error(
      `GET ${url}: HTTP ${res.status} ${body.errorType ?? ''}: ${body.error ?? text.slice(0, 500)}`,
    );
  }
  return body.data;
}

/** Prometheus API sample values are strings: "1.5", "NaN", "+Inf", "-Inf". */
export function promNumber(s: string): number {
  if (s === '+Inf') return Number.POSITIVE_INFINITY;
  if (s === '-Inf') return Number.NEGATIVE_INFINITY;
  return Number(s);
}

/** Thrown from a poll callback to stop polling at once. */
class FatalPollError extends Error {}

/** Poll `fn` every POLL_MS until it returns a non-undefined value; bounded by time and count. */
async function poll<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  const maxAttempts = Math.ceil(timeoutMs / POLL_MS) + 2;
  let lastError: unknown;
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
      lastError = undefined;
    } catch (e) {
      if (e instanceof FatalPollError) throw e;
      lastError = e;
    }
    if (Date.now() >= deadline) break;
    await sleep(Math.min(POLL_MS, Math.max(0, deadline - Date.now())));
  }
  const why = lastError instanceof Error ? `; last error: ${lastError.message}` : '';
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${why}`);
}

/** Start Prometheus scraping `jobs`; resolves once /-/ready answers 200. */
export async function startPrometheus(
  jobs: ScrapeJob[],
  opts: StartPrometheusOptions = {},
): Promise<PrometheusHandle> {
  installExitHook();
  const dir = await mkdtemp(join(tmpdir(), 'prometheus-test-'));
  try {
    const { config, files } = buildConfig(jobs, opts, dir);
    for (const [file, content] of files) await writeFile(file, content);
    const configFile = join(dir, 'prometheus.yml');
    // JSON is valid YAML.
    await writeFile(configFile, JSON.stringify(config, null, 2));
    // The port may be taken between freePort() and Prometheus binding it: retry a few times.
    let lastFailure: Error | undefined;
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freePort('127.0.0.1');
      const dataDir = join(dir, `data-${attempt}`);
      await mkdir(dataDir);
      if (opts.backfill !== undefined) await backfill(dir, dataDir, opts.backfill);
      try {
        return await launch(dir, dataDir, configFile, port, config, jobs, opts);
      } catch (e) {
        lastFailure = e as Error;
        if (!/address already in use/i.test(lastFailure.message)) break;
      }
    }
    throw lastFailure ?? new Error('startPrometheus failed');
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

async function backfill(dir: string, dataDir: string, openMetrics: string): Promise<void> {
  const input = join(dir, 'backfill.om');
  await writeFile(input, openMetrics);
  const result = await runTool(
    PROMTOOL,
    ['tsdb', 'create-blocks-from', 'openmetrics', '--quiet', input, dataDir],
    {
      timeoutMs: 60_000,
    },
  );
  if (result.code !== 0) throw new Error(`promtool could not backfill: ${result.stderr || result.stdout}`);
}

async function launch(
  dir: string,
  dataDir: string,
  configFile: string,
  port: number,
  config: Record<string, unknown>,
  jobs: ScrapeJob[],
  opts: StartPrometheusOptions,
): Promise<PrometheusHandle> {
  const url = `http://127.0.0.1:${port}`;
  const args = [
    `--config.file=${configFile}`,
    `--storage.tsdb.path=${dataDir}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
    ...(opts.extraArgs ?? []),
  ];
  const child = spawn(PROMETHEUS, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
  let logText = '';
  const onLog = (chunk: Buffer) => {
    logText += chunk.toString('utf8');
    if (logText.length > LOG_CAP) logText = logText.slice(logText.length - LOG_CAP);
  };
  child.stdout!.on('data', onLog);
  child.stderr!.on('data', onLog);
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    });
  });
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  const pid = child.pid;
  if (pid === undefined) {
    throw new Error(`Could not start ${PROMETHEUS}: ${(await spawnError).message}`);
  }
  const dog = spawnWatchdog(pid, dir);
  live.set(pid, { dir, dog });
  const killDog = () => {
    try {
      dog.kill('SIGKILL');
    } catch {}
  };
  // Once Prometheus is gone, the watchdog must not outlive it (its pid could be reused).
  void exitPromise.then(() => {
    live.delete(pid);
    killDog();
  });

  /** Kill Prometheus (SIGTERM, then SIGKILL after 5 s) and its watchdog; bounded to ~10 s. */
  let terminated: Promise<void> | undefined;
  const terminate = (): Promise<void> => {
    terminated ??= (async () => {
      if (!exited) {
        child.kill('SIGTERM');
        await Promise.race([exitPromise, sleep(5_000)]);
      }
      if (!exited) {
        child.kill('SIGKILL');
        await Promise.race([exitPromise, sleep(5_000)]);
      }
      killDog();
      live.delete(pid);
    })();
    return terminated;
  };
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= terminate().then(() => rmSync(dir, { recursive: true, force: true }));
    return stopped;
  };

  const readyTimeoutMs = opts.readyTimeoutMs ?? 30_000;
  try {
    await poll(`Prometheus ready at ${url}/-/ready`, readyTimeoutMs, async () => {
      if (exited) {
        throw new FatalPollError(
          `Prometheus exited early (code ${exited.code}, signal ${exited.signal}). Logs:\n${logText}`,
        );
      }
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      return res.status === 200 ? true : undefined;
    }).catch((e: Error) => {
      if (e instanceof FatalPollError) throw e;
      throw new Error(`${e.message}\nLogs:\n${logText}`);
    });
  } catch (e) {
    // startPrometheus() owns the temp dir until launch succeeds (it may retry with it).
    await terminate();
    throw e;
  }

  const expectedTargets = jobs.reduce((n, j) => n + j.targets.length, 0);
  const targets = async (): Promise<ActiveTarget[]> =>
    (await getJson(`${url}/api/v1/targets?state=active`)).activeTargets as ActiveTarget[];
  const query = async (promql: string): Promise<any> =>
    (await getJson(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`)).result;

  const handle: PrometheusHandle = {
    url,
    port,
    config,
    logs: () => logText,
    targets,
    async waitForTargets(pred, timeoutMs = 30_000) {
      const ok =
        pred ??
        ((ts: ActiveTarget[]) => ts.length >= expectedTargets && ts.every((t) => t.health !== 'unknown'));
      let last: ActiveTarget[] = [];
      try {
        return await poll('targets', timeoutMs, async () => {
          last = await targets();
          return ok(last) ? last : undefined;
        });
      } catch (e) {
        throw new Error(
          `${(e as Error).message}\nTargets: ${JSON.stringify(last, null, 2)}\nLogs:\n${logText}`,
        );
      }
    },
    waitForScrapesAfter(since, timeoutMs = 30_000) {
      let first = 0;
      return handle.waitForTargets(([target]) => {
        const at = Date.parse(target?.lastScrape ?? '');
        if (target?.health !== 'up' || !(at > since)) return false;
        first ||= at;
        return at > first;
      }, timeoutMs);
    },
    query,
    async queryValue(promql) {
      const result = await query(promql);
      if (!Array.isArray(result) || result.length === 0) return undefined;
      // scalar / string results are a bare [time, "value"] pair
      if (typeof result[0] === 'number') return promNumber(result[1]);
      // vector: [{ metric, value: [time, "value"] }]; matrix: [{ metric, values: [...] }]
      const first = result[0];
      const pair = first.value ?? first.values?.[first.values.length - 1];
      return pair ? promNumber(pair[1]) : undefined;
    },
    async waitForQuery(promql, pred, timeoutMs = 30_000) {
      let last: any;
      try {
        return await poll(`query ${promql}`, timeoutMs, async () => {
          last = await query(promql);
          return pred(last) ? last : undefined;
        });
      } catch (e) {
        throw new Error(`${(e as Error).message}\nLast result: ${JSON.stringify(last)}`);
      }
    },
    async metadata(job) {
      const selector = `{job=${JSON.stringify(job)}}`;
      return getJson(`${url}/api/v1/targets/metadata?match_target=${encodeURIComponent(selector)}`);
    },
    stop,
  };
  return handle;
}
