/**
 * The `data` section of `npm run bench`: what telemeter's database, cache and queue instrumentation costs against
 * the local PostgreSQL, MariaDB and Redis (issue 15's goal: the instrumented case keeps at least 97% of the bare
 * throughput). Each library's bench alternates bare and instrumented rounds in this process; this file only runs
 * them one after another and turns their figures into tables and goals.
 */
import { runBullmqOverhead } from './bullmq-overhead.js';
import { runRedisOverhead } from './redis-overhead.js';
import type { GoalCheck, SectionResult, Table } from './report.js';
import { runSqlOverhead } from './sql-overhead.js';

export interface DataLayerOptions {
  readonly quick: boolean;
  readonly progress: (message: string) => void;
}

const percent = (ratio: number) => `${(100 * ratio).toFixed(1)}%`;
const GOAL = 0.97;

export async function runDataLayer({ quick, progress }: DataLayerOptions): Promise<SectionResult> {
  const tables: Table[] = [];
  const goals: GoalCheck[] = [];

  progress('data: pg and mysql2');
  const rounds = quick ? 2 : 9;
  const phaseSeconds = quick ? 1 : 2;
  const sql = await runSqlOverhead({ rounds, phaseSeconds });
  tables.push({
    title: 'SQL: instrumentPg / instrumentMysql2 overhead against the local PostgreSQL 15 and MariaDB 10.11',
    header: [
      'library',
      'bare queries/s',
      'instrumented queries/s',
      'throughput kept',
      'bare CPU µs/query',
      'instrumented CPU µs/query',
      'CPU kept',
      'a subscriber doing nothing (kept)',
    ],
    rows: sql.map((r) => [
      r.library,
      r.bareQps.toFixed(0),
      r.instrumentedQps.toFixed(0),
      percent(r.ratio),
      r.bareCpuMicros.toFixed(1),
      r.instrumentedCpuMicros.toFixed(1),
      percent(r.cpuRatio),
      r.channelsRatio === undefined ? '' : percent(r.channelsRatio),
    ]),
    notes: [
      `A one-row SELECT with a parameter, 8 in flight over a pool of 4; ${rounds} rounds of ${phaseSeconds} s bare and ${phaseSeconds} s instrumented (instrument…() + …Metrics() + a Telemeter), for mysql2 also ${phaseSeconds} s with a subscriber that does nothing on its channels, order alternating; medians of the per-round ratios.`,
      "CPU is this process's user + system time per query (the database server's is not counted).",
    ],
  });
  for (const r of sql) {
    goals.push({
      goal: `Data: ${r.library} queries/s with instrumentation >= 97% of bare`,
      measured: percent(r.ratio),
      met: r.ratio >= GOAL,
    });
  }

  progress('data: ioredis and node-redis');
  const redis = await runRedisOverhead(quick ? { commands: 5_000, rounds: 2 } : { rounds: 8 });
  tables.push(...redis.tables);
  goals.push(...redis.goals.map((g) => ({ ...g, goal: `Data: ${g.goal}` })));

  progress('data: BullMQ');
  // Sized so that a round lasts about a second on a fast machine: 2,000 jobs drained in 75 ms here, shorter than
  // the instrumented worker's 1 s poll of the queue depth and than the noise between rounds.
  const jobs = quick ? 500 : 20_000;
  const bullmqRounds = quick ? 2 : 7;
  const bullmq = await runBullmqOverhead({ jobs, rounds: bullmqRounds });
  tables.push({
    title: 'BullMQ: instrumentBullmq overhead against the local Redis',
    header: ['case', 'jobs/s', 'CPU µs/job', 'throughput kept', 'CPU kept'],
    rows: [
      [
        'bare BullMQ worker',
        bullmq.bare.jobsPerSecond.toFixed(0),
        bullmq.bare.cpuMicrosPerJob.toFixed(1),
        '',
        '',
      ],
      [
        'with instrumentBullmq',
        bullmq.instrumented.jobsPerSecond.toFixed(0),
        bullmq.instrumented.cpuMicrosPerJob.toFixed(1),
        percent(bullmq.keptThroughput),
        percent(bullmq.keptCpu),
      ],
    ],
    notes: [
      `One worker (concurrency 10) draining ${jobs} trivial jobs per case and round on a fresh queue, the queue depth polled every second when instrumented; ${bullmqRounds} rounds, order alternating; medians.`,
    ],
  });
  goals.push({
    goal: 'Data: BullMQ jobs/s with instrumentBullmq >= 97% of bare',
    measured: percent(bullmq.keptThroughput),
    met: bullmq.keptThroughput >= GOAL,
  });
  return { tables, goals };
}
