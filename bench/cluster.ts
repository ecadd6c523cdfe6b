/**
 * telemeter/cluster under load: real node:cluster workers, each with `seriesPerWorker` histogram series
 * (the same tag sets in every worker, as when every worker serves the same routes), and a primary that
 * collects and renders. Measures a scrape (collect + full text render, streamed with a turn of the event
 * loop between chunks), the longest event-loop stall in the primary meanwhile, and the bytes the workers
 * shipped for it.
 *
 *   npm run bench:one -- bench/cluster.ts [--workers 8] [--series 10000]
 *
 * This file is also the workers' entry: cluster.fork() runs it again with TELEMETER_CLUSTER_BENCH=worker.
 */
import cluster, { type Worker } from 'node:cluster';
import { once } from 'node:events';
import { cpus } from 'node:os';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { counter, distribution, execute, Telemeter } from 'telemeter';
import { clusterTelemeter, startClusterPrimary, startClusterWorker } from 'telemeter/cluster';
import { markdownTable, mib, ms, type Table } from './report.js';

export interface ClusterBenchOptions {
  readonly workers?: number;
  readonly seriesPerWorker?: number;
  /** Steady-state scrapes to run after the first one. Default 3. */
  readonly rounds?: number;
}

export interface ScrapeReading {
  /** Time from asking the workers to flush to the last byte of the rendered text. */
  readonly scrapeMs: number;
  /** Of which: asking, receiving and applying the workers' deltas. */
  readonly collectMs: number;
  /** Longest gap between 1 ms timer ticks in the primary during the scrape (wall clock). */
  readonly maxStallMs: number;
  /** CPU time the primary spent within that kind of gap, at most: the part of a stall that is its own work. */
  readonly maxBusyMs: number;
  /** maxBusyMs while collecting (receiving and applying deltas) and while rendering. */
  readonly collectBusyMs: number;
  readonly renderBusyMs: number;
  /** JSON bytes the workers sent for this scrape. */
  readonly bytes: number;
  /** Bytes of the rendered exposition. */
  readonly expositionBytes: number;
}

export interface ClusterBenchResult extends ScrapeReading {
  /** The first scrape: every series is new to the primary, so tag values travel too. */
  readonly first: ScrapeReading;
  /** Each steady-state scrape: every series in every worker changed since the previous one (worst case). */
  readonly steady: readonly ScrapeReading[];
}

const EVENT = 'bench.cluster.request.stop';
const ROLE_ENV = 'TELEMETER_CLUSTER_BENCH';

function metrics() {
  return [
    counter('bench.cluster.requests_total', {
      eventName: EVENT,
      measurement: 'duration',
      tags: ['route', 'method'],
    }),
    distribution('bench.cluster.request.duration_seconds', {
      eventName: EVENT,
      measurement: 'duration',
      unit: ['millisecond', 'second'],
      tags: ['route', 'method'],
      reporterOptions: { buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] },
    }),
  ];
}

/** Half the series are counters, half histograms: `seriesPerWorker / 2` tag sets feed both. */
function tagSets(series: number): Array<{ route: string; method: string }> {
  const methods = ['GET', 'POST', 'PUT', 'DELETE'];
  return Array.from({ length: Math.max(1, Math.floor(series / 2)) }, (_, i) => ({
    route: `/api/v1/resource_${Math.floor(i / methods.length)}`,
    method: methods[i % methods.length],
  }));
}

async function benchWorker(): Promise<void> {
  const telemeter = new Telemeter({ metrics: metrics(), maxSeries: 1_000_000 });
  let bytes = 0;
  const send = process.send!.bind(process);
  // Counts what telemeter sends, as JSON, the way cluster IPC serializes it.
  process.send = ((message: unknown, ...rest: unknown[]) => {
    if (typeof message === 'object' && message !== null && 'telemeter' in message) {
      bytes += Buffer.byteLength(JSON.stringify(message));
    }
    return (send as (...args: unknown[]) => boolean)(message, ...rest);
  }) as typeof process.send;
  startClusterWorker(telemeter, { flushInterval: 3_600_000 });
  const sets = tagSets(Number(process.env.BENCH_SERIES));
  process.on('message', (message: { bench?: string; round?: number }) => {
    if (message?.bench === 'record') {
      const round = message.round ?? 0;
      for (let i = 0; i < sets.length; i++) execute(EVENT, { duration: ((i + round) % 400) * 5 }, sets[i]);
      bytes = 0;
      process.send?.({ bench: 'recorded' });
    } else if (message?.bench === 'bytes') {
      process.send?.({ bench: 'bytes', bytes });
    }
  });
  process.send?.({ bench: 'ready' });
}

function answer(worker: Worker, kind: string): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const listener = (message: Record<string, unknown>) => {
      if (message?.bench !== kind) return;
      worker.off('message', listener);
      resolve(message);
    };
    worker.on('message', listener);
  });
}

/**
 * The longest gap between ticks of a 1 ms timer, and the most CPU the primary spent within one gap. With more
 * processes than cores, a gap can be the OS running a worker instead of the primary: wall time alone would
 * blame the primary's event loop for it, so the CPU the primary itself used in the gap is reported too.
 */
class StallWatch {
  private timer: NodeJS.Timeout | undefined;
  private last = 0;
  private lastCpu = 0;
  private maxGap = 0;
  private maxBusy = 0;

  start(): void {
    this.last = performance.now();
    this.lastCpu = cpuMs();
    this.timer = setInterval(() => this.tick(), 1);
  }

  /** The readings so far; the watch starts over. */
  lap(): { maxStallMs: number; maxBusyMs: number } {
    this.tick();
    const reading = { maxStallMs: this.maxGap, maxBusyMs: this.maxBusy };
    this.maxGap = 0;
    this.maxBusy = 0;
    return reading;
  }

  stop(): { maxStallMs: number; maxBusyMs: number } {
    clearInterval(this.timer);
    return this.lap();
  }

  private tick(): void {
    const now = performance.now();
    const cpu = cpuMs();
    this.maxGap = Math.max(this.maxGap, now - this.last);
    this.maxBusy = Math.max(this.maxBusy, Math.min(cpu - this.lastCpu, now - this.last));
    this.last = now;
    this.lastCpu = cpu;
  }
}

function cpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

/**
 * Forks `workers` cluster workers, fills `seriesPerWorker` series in each, and measures the first scrape and
 * `rounds` steady-state scrapes. The returned top-level figures are the worst steady-state scrape's.
 */
export async function runClusterBench(options: ClusterBenchOptions = {}): Promise<ClusterBenchResult> {
  const { workers = 8, seriesPerWorker = 10_000, rounds = 3 } = options;
  if (!cluster.isPrimary) throw new Error('bench/cluster: runClusterBench runs in a cluster primary');
  cluster.setupPrimary({ exec: fileURLToPath(import.meta.url), execArgv: ['--import', 'tsx'] });
  const telemeter = clusterTelemeter({ metrics: metrics(), maxSeries: 1_000_000 });
  const aggregator = startClusterPrimary(telemeter, { timeoutMs: 30_000 });
  const forked: Worker[] = [];
  try {
    for (let i = 0; i < workers; i++) {
      forked.push(cluster.fork({ [ROLE_ENV]: 'worker', BENCH_SERIES: String(seriesPerWorker) }));
    }
    await Promise.all(forked.map((w) => answer(w, 'ready')));
    while (aggregator.workers < workers) await new Promise((r) => setTimeout(r, 10));

    const scrape = async (round: number): Promise<ScrapeReading> => {
      await Promise.all(
        forked.map((w) => {
          const recorded = answer(w, 'recorded');
          w.send({ bench: 'record', round });
          return recorded;
        }),
      );
      const watch = new StallWatch();
      watch.start();
      const started = performance.now();
      const result = await aggregator.collect();
      const collected = performance.now();
      const collecting = watch.lap();
      if (result.timedOut > 0) throw new Error(`bench/cluster: ${result.timedOut} workers did not answer`);
      let expositionBytes = 0;
      for (const chunk of aggregator.render({ format: 'text' })) {
        expositionBytes += Buffer.byteLength(chunk);
        await nextTurn();
      }
      const finished = performance.now();
      const rendering = watch.stop();
      const shipped = await Promise.all(
        forked.map((w) => {
          const reply = answer(w, 'bytes');
          w.send({ bench: 'bytes' });
          return reply;
        }),
      );
      return {
        scrapeMs: finished - started,
        collectMs: collected - started,
        maxStallMs: Math.max(collecting.maxStallMs, rendering.maxStallMs),
        maxBusyMs: Math.max(collecting.maxBusyMs, rendering.maxBusyMs),
        collectBusyMs: collecting.maxBusyMs,
        renderBusyMs: rendering.maxBusyMs,
        bytes: shipped.reduce((n, m) => n + Number(m.bytes), 0),
        expositionBytes,
      };
    };

    const first = await scrape(0);
    const steady: ScrapeReading[] = [];
    for (let round = 1; round <= rounds; round++) steady.push(await scrape(round));
    const worst = steady.reduce((a, b) => (b.scrapeMs > a.scrapeMs ? b : a), steady[0] ?? first);
    return { ...worst, first, steady };
  } finally {
    aggregator.close();
    telemeter.close();
    const exits = forked.map((w) => once(w, 'exit'));
    for (const w of forked) w.process.kill('SIGKILL');
    await Promise.all(exits);
  }
}

/** The result as a markdown table. */
export function clusterBenchTable(result: ClusterBenchResult, workers: number, series: number): Table {
  const row = (name: string, r: ScrapeReading) => [
    name,
    ms(r.scrapeMs),
    ms(r.collectMs),
    ms(r.maxStallMs),
    ms(r.collectBusyMs),
    ms(r.renderBusyMs),
    mib(r.bytes),
    mib(r.expositionBytes),
  ];
  return {
    title: `telemeter/cluster: ${workers} workers × ${series} series (node:cluster IPC)`,
    header: [
      'scrape',
      'scrape ms',
      'collect ms',
      'max stall ms',
      'primary CPU in a stall: collect ms',
      'render ms',
      'shipped MiB',
      'exposition MiB',
    ],
    rows: [
      row('first (all series new)', result.first),
      ...result.steady.map((r, i) => row(`steady ${i + 1} (all series changed)`, r)),
    ],
    notes: [
      `${cpus().length} cores, Node ${process.version}. Series: half counters, half histograms (11 buckets), same tag sets in every worker.`,
      'scrape = collect (flush request → deltas applied) + rendering the whole text exposition in 64 KiB chunks.',
      'max stall = longest gap between 1 ms timer ticks in the primary; "primary CPU in a stall" = the most CPU the primary process used inside one gap, while collecting and while rendering (the rest of a gap is the OS running workers on the shared cores; process CPU includes GC and compiler threads, so it is an upper bound).',
    ],
  };
}

function argument(name: string, fallback: number): number {
  const index = process.argv.indexOf(name);
  const value = index < 0 ? fallback : Number(process.argv[index + 1]);
  if (!(Number.isInteger(value) && value > 0))
    throw new Error(`bench/cluster: ${name} needs a positive integer`);
  return value;
}

if (cluster.isWorker && process.env[ROLE_ENV] === 'worker') {
  void benchWorker();
} else if (cluster.isPrimary && process.argv[1] === fileURLToPath(import.meta.url)) {
  const workers = argument('--workers', 8);
  const series = argument('--series', 10_000);
  const result = await runClusterBench({ workers, seriesPerWorker: series });
  process.stdout.write(markdownTable(clusterBenchTable(result, workers, series)));
}
