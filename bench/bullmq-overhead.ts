/**
 * What BullMQ instrumentation costs: jobs per second, and this process's CPU time per job, for one worker
 * draining a queue of trivial jobs from the local Redis, bare and with telemeter (instrumentBullmq +
 * bullmqMetrics + a Telemeter, the queue polled every second). Redis round trips dominate a trivial job, so the
 * CPU time per job, which instrumentation adds to directly, is the sharper figure. The two cases alternate,
 * each round on a fresh key prefix, and the medians over the rounds are reported.
 *
 *   npm run bench:one -- bench/bullmq-overhead.ts [--jobs 2000] [--rounds 5] [--concurrency 10]
 */
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { Telemeter } from 'telemeter';
import { bullmqMetrics, instrumentBullmq } from 'telemeter/bullmq';

const connection = { host: '127.0.0.1', port: 6379, maxRetriesPerRequest: null };

export interface BullmqOverheadOptions {
  /** Jobs per case and round. Default 2000. */
  readonly jobs?: number;
  /** Rounds; the order of the cases alternates. Default 5. */
  readonly rounds?: number;
  /** Worker concurrency. Default 10. */
  readonly concurrency?: number;
}

export interface BullmqCaseFigures {
  readonly jobsPerSecond: number;
  readonly cpuMicrosPerJob: number;
}

export interface BullmqOverheadResult {
  readonly bare: BullmqCaseFigures;
  readonly instrumented: BullmqCaseFigures;
  /** Median over the rounds of instrumented ÷ bare jobs per second. */
  readonly keptThroughput: number;
  /** Median over the rounds of bare ÷ instrumented CPU per job: 1 when instrumentation costs nothing. */
  readonly keptCpu: number;
}

async function drain(instrumented: boolean, jobs: number, concurrency: number): Promise<BullmqCaseFigures> {
  const prefix = `telemeter-bench-${randomUUID()}`;
  const queue = new Queue('bench', { connection, prefix });
  await queue.addBulk(Array.from({ length: jobs }, (_, i) => ({ name: 'noop', data: { i } })));
  const worker = new Worker('bench', async () => 1, { connection, prefix, autorun: false, concurrency });
  const telemeter = instrumented ? new Telemeter({ metrics: bullmqMetrics() }) : undefined;
  const instrumentation = instrumented
    ? instrumentBullmq({ workers: [worker], queues: [queue], pollInterval: 1000 })
    : undefined;
  let done = 0;
  const finished = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${done} of ${jobs} jobs in 120 s`)), 120_000);
    worker.on('completed', () => {
      if (++done < jobs) return;
      clearTimeout(timer);
      resolve();
    });
  });
  const cpu = process.cpuUsage();
  const start = performance.now();
  void worker.run();
  await finished;
  const seconds = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  instrumentation?.stop();
  telemeter?.close();
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  return { jobsPerSecond: jobs / seconds, cpuMicrosPerJob: (used.user + used.system) / jobs };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export async function runBullmqOverhead(options: BullmqOverheadOptions = {}): Promise<BullmqOverheadResult> {
  const jobs = options.jobs ?? 2000;
  const rounds = options.rounds ?? 5;
  const concurrency = options.concurrency ?? 10;
  const admin = new Redis(connection);
  await admin.ping();
  await admin.quit();
  // Warm-up: JIT and connections, not measured.
  await drain(false, Math.min(jobs, 500), concurrency);
  await drain(true, Math.min(jobs, 500), concurrency);
  const bare: BullmqCaseFigures[] = [];
  const instrumented: BullmqCaseFigures[] = [];
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? [false, true] : [true, false];
    for (const withTelemeter of order) {
      const figures = await drain(withTelemeter, jobs, concurrency);
      (withTelemeter ? instrumented : bare).push(figures);
      process.stderr.write(
        `round ${round + 1} ${withTelemeter ? 'instrumented' : 'bare'}: ${figures.jobsPerSecond.toFixed(0)} jobs/s, ${figures.cpuMicrosPerJob.toFixed(1)} µs CPU/job\n`,
      );
    }
  }
  const pick = (list: BullmqCaseFigures[]): BullmqCaseFigures => ({
    jobsPerSecond: median(list.map((f) => f.jobsPerSecond)),
    cpuMicrosPerJob: median(list.map((f) => f.cpuMicrosPerJob)),
  });
  return {
    bare: pick(bare),
    instrumented: pick(instrumented),
    keptThroughput: median(bare.map((b, i) => instrumented[i].jobsPerSecond / b.jobsPerSecond)),
    keptCpu: median(bare.map((b, i) => b.cpuMicrosPerJob / instrumented[i].cpuMicrosPerJob)),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const flag = (name: string): number | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i === -1 ? undefined : Number(process.argv[i + 1]);
  };
  const result = await runBullmqOverhead({
    jobs: flag('jobs'),
    rounds: flag('rounds'),
    concurrency: flag('concurrency'),
  });
  const row = (name: string, f: BullmqCaseFigures) =>
    `| ${name} | ${f.jobsPerSecond.toFixed(0)} | ${f.cpuMicrosPerJob.toFixed(1)} |`;
  console.log('| case | jobs/s | CPU µs/job |\n|---|---|---|');
  console.log(row('bare BullMQ worker', result.bare));
  console.log(row('with telemeter/bullmq', result.instrumented));
  console.log(
    `\nkept: ${(result.keptThroughput * 100).toFixed(1)}% of the throughput, ${(result.keptCpu * 100).toFixed(1)}% of the CPU efficiency (goal >= 97%)`,
  );
}
