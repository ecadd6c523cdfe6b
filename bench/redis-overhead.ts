/**
 * What `instrumentRedis` costs: commands per second and the application's own CPU time per command against the
 * local Redis (127.0.0.1:6379), for ioredis and node-redis, bare and instrumented (instrumentRedis +
 * redisMetrics + a Telemeter). The goal: the instrumented case keeps at least 97% of the bare throughput.
 *
 * Each case and round runs in a process of its own, in interleaved rounds (bare, instrumented, ... then the
 * reverse), and each round's figures are compared with the bare ones of the same round. Alternating the cases in
 * one process measured the JIT state the other cases left behind: the floor case below read 80% there and 98.5%
 * alone, because the library's shared code had seen traced and untraced commands.
 *
 * A third case subscribes a subscriber that does nothing to the library's command and batch channels: what the
 * library's own tracing costs (its `tracePromise`, the context it builds), which every consumer of the channels
 * pays, apart from what telemeter's handlers and the Telemeter add on top.
 *
 * A fourth case is the floor of any per-command duration metric: the client's own `sendCommand` reads the clock,
 * and the command's end reads it again and counts one bucket of an unlabelled histogram. No channel, no labels, no
 * event: what timing every command costs at the least. ioredis has a `resolve` per command to swap; node-redis
 * hands back only its promise, so there the end is a reaction to that promise.
 *
 *   npm run bench:one -- bench/redis-overhead.ts [--commands 20000] [--rounds 6] [--concurrency 32]
 */
import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { floorHistogram, median, subscribeDoingNothing } from './measure.js';
import { type GoalCheck, markdownTable, type SectionResult } from './report.js';

export interface RedisOverheadOptions {
  /** Commands per load (GET and SET alternating); a case runs a warm-up and three loads. Default 20,000. */
  readonly commands?: number;
  /** Rounds; each runs every case once. Default 6. */
  readonly rounds?: number;
  /** Commands in flight at once (as concurrent requests of a server would issue them). Default 32. */
  readonly concurrency?: number;
}

interface Figures {
  readonly commandsPerSecond: number;
  /** The application's CPU time (user + system) per command, in microseconds. */
  readonly cpuMicrosPerCommand: number;
}

type Library = 'ioredis' | 'node-redis';
type Case = 'bare' | 'channels' | 'instrumented' | 'minimal';

const CASES: Record<Library, readonly Case[]> = {
  ioredis: ['bare', 'channels', 'instrumented', 'minimal'],
  'node-redis': ['bare', 'channels', 'instrumented', 'minimal'],
};

const CASE_NAMES: Record<Case, string> = {
  bare: 'bare',
  channels: '+ a subscriber doing nothing',
  instrumented: '+ instrumentRedis',
  minimal: '+ the least per-command timing (reference)',
};

const CHILD_ENV = 'TELEMETER_REDIS_BENCH_CASE';

type Client = { get(key: string): Promise<unknown>; set(key: string, value: string): Promise<unknown> };

/** The fields of an ioredis `Command` that the floor case touches. */
interface IoredisCommand {
  resolve: (value: unknown) => void;
}

/** Histogram bounds of the floor case, in milliseconds (OpenTelemetry's database defaults, scaled). */
const BOUNDS_MS = [1, 5, 10, 50, 100, 500, 1000, 5000, 10000];

/**
 * Makes an ioredis client time every command into one unlabelled histogram, with the least work such a metric
 * can do. Benchmark only: it assumes each command is sent once (no offline queue or resend).
 */
function timeIoredisMinimally(client: import('ioredis').Redis): void {
  const observe = floorHistogram(BOUNDS_MS);
  const sent = client.sendCommand;
  client.sendCommand = function timedSendCommand(this: unknown, command, stream) {
    const start = performance.now();
    const timed = command as unknown as IoredisCommand;
    const resolve = timed.resolve;
    timed.resolve = (value) => {
      observe(performance.now() - start);
      resolve(value);
    };
    return sent.call(this, command, stream);
  } as typeof client.sendCommand;
}

/** The same for a node-redis client, whose commands all go through its `sendCommand`. */
function timeNodeRedisMinimally(client: {
  sendCommand(args: unknown, options: unknown): Promise<unknown>;
}): void {
  const observe = floorHistogram(BOUNDS_MS);
  const sent = client.sendCommand;
  const ignore = () => {};
  client.sendCommand = function timedSendCommand(this: unknown, args: unknown, options: unknown) {
    const start = performance.now();
    const reply = sent.call(this, args, options);
    reply.then(() => observe(performance.now() - start), ignore);
    return reply;
  };
}

async function load(client: Client, commands: number, concurrency: number, key: string): Promise<Figures> {
  let issued = 0;
  const worker = async () => {
    while (issued < commands) {
      const n = issued++;
      await (n % 2 === 0 ? client.set(key, String(n)) : client.get(key));
    }
  };
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const used = process.cpuUsage(cpu);
  return {
    commandsPerSecond: commands / seconds,
    cpuMicrosPerCommand: (used.user + used.system) / commands,
  };
}

/** One case in this (child) process: set up, warm up, measure three times, print the median load's figures. */
async function runCase(library: Library, which: Case, commands: number, concurrency: number): Promise<void> {
  if (which === 'channels') subscribeDoingNothing([`${library}:command`, `${library}:batch`]);
  let close = () => {};
  if (which === 'instrumented') {
    const { Telemeter } = await import('telemeter');
    const { instrumentRedis, redisMetrics } = await import('telemeter/redis');
    const telemeter = new Telemeter({ metrics: redisMetrics() });
    const instrumentation = instrumentRedis({ clients: [library] });
    close = () => {
      instrumentation.stop();
      telemeter.close();
    };
  }
  const key = `telemeter-bench:${process.pid}`;
  let client: Client;
  let disconnect: () => Promise<unknown>;
  if (library === 'ioredis') {
    const { Redis } = await import('ioredis');
    const io = new Redis({ host: '127.0.0.1', port: 6379 });
    if (which === 'minimal') timeIoredisMinimally(io);
    client = io;
    disconnect = async () => io.disconnect();
  } else {
    const { createClient } = await import('redis');
    const node = createClient({ url: 'redis://127.0.0.1:6379' });
    await node.connect();
    if (which === 'minimal') timeNodeRedisMinimally(node as never);
    client = node;
    disconnect = () => node.close();
  }
  try {
    await load(client, commands, concurrency, key);
    // Three loads, the one with the median throughput reported: a fresh process's first loads still compile.
    const loads: Figures[] = [];
    for (let i = 0; i < 3; i++) loads.push(await load(client, commands, concurrency, key));
    loads.sort((a, b) => a.commandsPerSecond - b.commandsPerSecond);
    process.stdout.write(`${JSON.stringify(loads[1])}\n`);
  } finally {
    await (client as unknown as { del(key: string): Promise<unknown> }).del(key);
    await disconnect();
    close();
  }
}

/**
 * Fails at once, and says so, when nothing listens on Redis's port: both clients would otherwise retry for as long
 * as each case's process is allowed to run.
 */
async function requireRedis(): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: 6379, timeout: 2_000 });
    const fail = (why: string) => {
      socket.destroy();
      reject(new Error(`redis-overhead: no Redis on 127.0.0.1:6379 (${why}); start it and run again`));
    };
    socket.once('connect', () => {
      socket.end();
      resolve();
    });
    socket.once('timeout', () => fail('no answer in 2 s'));
    socket.once('error', (error) => fail(error.message));
  });
}

export async function runRedisOverhead(options: RedisOverheadOptions = {}): Promise<SectionResult> {
  await requireRedis();
  const commands = options.commands ?? 20_000;
  const rounds = options.rounds ?? 6;
  const concurrency = options.concurrency ?? 32;
  const libraries: Library[] = ['ioredis', 'node-redis'];
  const figures = new Map<string, Figures[]>();
  const ratios = new Map<string, number[]>();
  const cpuRatios = new Map<string, number[]>();
  const push = <T>(map: Map<string, T[]>, key: string, value: T) => {
    const list = map.get(key) ?? [];
    list.push(value);
    map.set(key, list);
  };
  for (const library of libraries) {
    for (let round = 0; round < rounds; round++) {
      const cases = CASES[library];
      const order = round % 2 === 0 ? cases : [...cases].reverse();
      const measured = new Map<Case, Figures>();
      for (const which of order) {
        const output = execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
          env: {
            ...process.env,
            [CHILD_ENV]: JSON.stringify({ library, which, commands, concurrency }),
          },
          encoding: 'utf8',
          timeout: 120_000,
        });
        measured.set(which, JSON.parse(output.trim().split('\n').at(-1) as string) as Figures);
      }
      const bare = measured.get('bare') as Figures;
      for (const [which, own] of measured) {
        const key = `${library} ${which}`;
        push(figures, key, own);
        push(ratios, key, own.commandsPerSecond / bare.commandsPerSecond);
        push(cpuRatios, key, bare.cpuMicrosPerCommand / own.cpuMicrosPerCommand);
      }
      process.stderr.write(`redis-overhead: ${library} round ${round + 1}/${rounds}\n`);
    }
  }
  const percent = (ratio: number) => `${(ratio * 100).toFixed(1)}%`;
  const rows = libraries.flatMap((library) =>
    CASES[library].map((which) => {
      const key = `${library} ${which}`;
      const own = figures.get(key) ?? [];
      return [
        `${library} ${CASE_NAMES[which]}`,
        median(own.map((x) => x.commandsPerSecond)).toFixed(0),
        median(own.map((x) => x.cpuMicrosPerCommand)).toFixed(2),
        which === 'bare' ? '' : percent(median(ratios.get(key) ?? [])),
        which === 'bare' ? '' : percent(median(cpuRatios.get(key) ?? [])),
      ];
    }),
  );
  const goals: GoalCheck[] = libraries.map((library) => {
    const kept = median(ratios.get(`${library} instrumented`) ?? []);
    return {
      goal: `${library} commands/s with instrumentRedis >= 97% of bare`,
      measured: percent(kept),
      met: kept >= 0.97,
    };
  });
  return {
    tables: [
      {
        title: 'Redis: instrumentRedis overhead against the local Redis',
        header: ['case', 'commands/s', 'app CPU µs/command', 'throughput kept', 'CPU kept'],
        rows,
        notes: [
          `Each case and round in a process of its own: a warm-up, then three loads of ${commands} commands (SET and GET alternating, ${concurrency} in flight), the median load kept; ${rounds} rounds, medians.`,
          'Kept = this case ÷ bare of the same round (CPU kept = bare CPU per command ÷ this case’s).',
        ],
      },
    ],
    goals,
  };
}

function option(name: string): number | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index < 0 ? undefined : Number(process.argv[index + 1]);
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
const childCase = process.env[CHILD_ENV];
if (isMain && childCase !== undefined) {
  const { library, which, commands, concurrency } = JSON.parse(childCase) as {
    library: Library;
    which: Case;
    commands: number;
    concurrency: number;
  };
  await runCase(library, which, commands, concurrency);
} else if (isMain) {
  const result = await runRedisOverhead({
    commands: option('commands'),
    rounds: option('rounds'),
    concurrency: option('concurrency'),
  });
  for (const table of result.tables) process.stdout.write(markdownTable(table));
  for (const goal of result.goals)
    process.stdout.write(`- ${goal.goal}: ${goal.measured} (${goal.met ? 'met' : 'NOT met'})\n`);
}
