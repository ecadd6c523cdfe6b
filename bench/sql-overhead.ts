/**
 * Queries per second against the local PostgreSQL (pg) and MariaDB (mysql2), with and without telemeter's
 * instrumentation and metrics, in one run: rounds alternate bare and instrumented phases (order reversed every
 * other round) on the same pools, and the figure is the median of the per-round ratios. The issue's goal is
 * >= 97%. Also the application's own CPU time per query, which instrumentation adds to directly while the
 * database's round trip hides it in the throughput. For mysql2, which telemeter reads through the diagnostics
 * channels it publishes, a third phase has a subscriber that does nothing on them: what mysql2's own tracing costs
 * any consumer of its channels. `npm run bench -- --only data` runs it; alone:
 * `npm run bench:one -- bench/sql-overhead.ts [--quick]`.
 */
import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { Telemeter } from 'telemeter';
import { instrumentMysql2, mysql2Metrics } from 'telemeter/mysql2';
import { instrumentPg, pgMetrics } from 'telemeter/pg';
import { subscribeDoingNothing } from './measure.js';

export interface SqlOverheadOptions {
  /** Seconds per phase. Default 3. */
  readonly phaseSeconds?: number;
  /** Bare/instrumented pairs. Default 5. */
  readonly rounds?: number;
  /** Queries in flight. Default 8, over a pool of 4. */
  readonly concurrency?: number;
}

export interface SqlOverheadResult {
  readonly library: 'pg' | 'mysql2';
  readonly bareQps: number;
  readonly instrumentedQps: number;
  /** Median of the per-round ratios instrumented / bare. */
  readonly ratio: number;
  /** This process's CPU time (user + system) per query, in microseconds: medians over the rounds. */
  readonly bareCpuMicros: number;
  readonly instrumentedCpuMicros: number;
  /** Median of the per-round ratios bare / instrumented CPU per query: 1 when instrumentation costs nothing. */
  readonly cpuRatio: number;
  /**
   * For a library that publishes diagnostics channels (mysql2): the median per-round ratio of the throughput with
   * a subscriber that does nothing on them to the bare one, i.e. what the library's own tracing costs.
   */
  readonly channelsRatio?: number;
}

interface Phase {
  readonly qps: number;
  readonly cpuMicros: number;
}

type Query = () => Promise<unknown>;

async function queriesPerSecond(query: Query, seconds: number, concurrency: number): Promise<Phase> {
  const cpu = process.cpuUsage();
  const deadline = performance.now() + seconds * 1000;
  let done = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        await query();
        done++;
      }
    }),
  );
  const used = process.cpuUsage(cpu);
  return { qps: done / seconds, cpuMicros: (used.user + used.system) / Math.max(done, 1) };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

type PhaseName = 'bare' | 'instrumented' | 'channels';

async function measure(
  library: SqlOverheadResult['library'],
  query: Query,
  instrument: () => () => void,
  options: Required<SqlOverheadOptions>,
  /** The library's own channels, for a phase with a subscriber that does nothing. */
  channels?: readonly string[],
): Promise<SqlOverheadResult> {
  await queriesPerSecond(query, 1, options.concurrency); // warm-up: connections open, code compiled
  const measured: Record<PhaseName, Phase[]> = { bare: [], instrumented: [], channels: [] };
  const attach: Record<PhaseName, () => () => void> = {
    bare: () => () => {},
    instrumented: instrument,
    channels: () => subscribeDoingNothing(channels ?? []),
  };
  const names: PhaseName[] =
    channels === undefined ? ['bare', 'instrumented'] : ['bare', 'channels', 'instrumented'];
  for (let round = 0; round < options.rounds; round++) {
    for (const phase of round % 2 === 0 ? names : [...names].reverse()) {
      const detach = attach[phase]();
      try {
        measured[phase].push(await queriesPerSecond(query, options.phaseSeconds, options.concurrency));
      } finally {
        detach();
      }
    }
  }
  const { bare, instrumented } = measured;
  return {
    library,
    bareQps: median(bare.map((p) => p.qps)),
    instrumentedQps: median(instrumented.map((p) => p.qps)),
    ratio: median(instrumented.map((p, i) => p.qps / bare[i].qps)),
    bareCpuMicros: median(bare.map((p) => p.cpuMicros)),
    instrumentedCpuMicros: median(instrumented.map((p) => p.cpuMicros)),
    cpuRatio: median(instrumented.map((p, i) => bare[i].cpuMicros / p.cpuMicros)),
    ...(channels === undefined
      ? {}
      : { channelsRatio: median(measured.channels.map((p, i) => p.qps / bare[i].qps)) }),
  };
}

export async function runSqlOverhead(options: SqlOverheadOptions = {}): Promise<SqlOverheadResult[]> {
  const resolved: Required<SqlOverheadOptions> = {
    phaseSeconds: options.phaseSeconds ?? 3,
    rounds: options.rounds ?? 5,
    concurrency: options.concurrency ?? 8,
  };
  const results: SqlOverheadResult[] = [];
  const pgPool = new pg.Pool({ host: '127.0.0.1', user: 'postgres', database: 'test', max: 4 });
  try {
    results.push(
      await measure(
        'pg',
        () => pgPool.query('SELECT relname FROM pg_class WHERE oid = $1', [1259]),
        () => {
          const telemeter = new Telemeter({ metrics: pgMetrics() });
          const handle = instrumentPg(pgPool);
          return () => {
            handle.stop();
            telemeter.close();
          };
        },
        resolved,
      ),
    );
  } finally {
    await pgPool.end();
  }
  const mysqlPool = mysql.createPool({
    host: '127.0.0.1',
    user: 'root',
    database: 'test',
    connectionLimit: 4,
  });
  try {
    results.push(
      await measure(
        'mysql2',
        () => mysqlPool.query('SELECT table_name FROM information_schema.tables WHERE table_name = ?', ['x']),
        () => {
          const telemeter = new Telemeter({ metrics: mysql2Metrics() });
          const handle = instrumentMysql2({ pool: mysqlPool });
          return () => {
            handle.stop();
            telemeter.close();
          };
        },
        resolved,
        ['mysql2:query', 'mysql2:execute', 'mysql2:pool:connect'],
      ),
    );
  } finally {
    await mysqlPool.end();
  }
  return results;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const quick = process.argv.includes('--quick');
  const results = await runSqlOverhead(quick ? { phaseSeconds: 1, rounds: 2 } : {});
  console.log(
    '| library | bare queries/s | instrumented queries/s | ratio | bare CPU µs/query | instrumented | CPU kept | a subscriber doing nothing |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    console.log(
      `| ${r.library} | ${r.bareQps.toFixed(0)} | ${r.instrumentedQps.toFixed(0)} | ${(r.ratio * 100).toFixed(1)}% | ${r.bareCpuMicros.toFixed(1)} | ${r.instrumentedCpuMicros.toFixed(1)} | ${(r.cpuRatio * 100).toFixed(1)}% | ${r.channelsRatio === undefined ? '' : `${(r.channelsRatio * 100).toFixed(1)}%`} |`,
    );
  }
}
