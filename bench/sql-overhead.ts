/**
 * Queries per second against the local PostgreSQL (pg) and MariaDB (mysql2), with and without telemeter's
 * instrumentation and metrics, in one run: rounds alternate bare and instrumented phases (order reversed every
 * other round) on the same pools, and the figure is the median of the per-round ratios. The goal is
 * >= 97%. Run alone with `node --import tsx bench/sql-overhead.ts [--quick]`; not yet wired into bench/run.ts.
 */
import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { Telemeter } from '../src/index.js';
import { instrumentMysql2, mysql2Metrics } from '../src/mysql2/index.js';
import { instrumentPg, pgMetrics } from '../src/pg/index.js';

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
}

type Query = () => Promise<unknown>;

async function queriesPerSecond(query: Query, seconds: number, concurrency: number): Promise<number> {
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
  return done / seconds;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

async function measure(
  library: SqlOverheadResult['library'],
  query: Query,
  instrument: () => () => void,
  options: Required<SqlOverheadOptions>,
): Promise<SqlOverheadResult> {
  await queriesPerSecond(query, 1, options.concurrency); // warm-up: connections open, code compiled
  const bare: number[] = [];
  const instrumented: number[] = [];
  for (let round = 0; round < options.rounds; round++) {
    const phases =
      round % 2 === 0 ? (['bare', 'instrumented'] as const) : (['instrumented', 'bare'] as const);
    for (const phase of phases) {
      if (phase === 'bare') {
        bare.push(await queriesPerSecond(query, options.phaseSeconds, options.concurrency));
      } else {
        const stop = instrument();
        try {
          instrumented.push(await queriesPerSecond(query, options.phaseSeconds, options.concurrency));
        } finally {
          stop();
        }
      }
    }
  }
  return {
    library,
    bareQps: median(bare),
    instrumentedQps: median(instrumented),
    ratio: median(instrumented.map((value, i) => value / bare[i])),
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
  console.log('| library | bare queries/s | instrumented queries/s | ratio |');
  console.log('|---|---:|---:|---:|');
  for (const r of results) {
    console.log(
      `| ${r.library} | ${r.bareQps.toFixed(0)} | ${r.instrumentedQps.toFixed(0)} | ${(r.ratio * 100).toFixed(1)}% |`,
    );
  }
}
