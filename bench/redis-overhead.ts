/**
 * What `instrumentRedis` costs: commands per second and the application's own CPU time per command against the
 * local Redis (127.0.0.1:6379), for ioredis and node-redis, bare and instrumented (instrumentRedis +
 * redisMetrics + a Telemeter), in one process. Both libraries trace only while a channel has subscribers, so
 * `stop()` really returns them to their bare path and the cases can alternate in one process: rounds run bare,
 * instrumented, instrumented, bare, ... and each round's instrumented figures are compared with the bare ones
 * next to it. The goal: the instrumented case keeps at least 97% of the bare throughput.
 *
 * A third case subscribes a subscriber that does nothing to the library's command and batch channels: what the
 * library's own tracing costs (its `tracePromise`, the context it builds), which every consumer of the channels
 * pays, apart from what telemeter's handlers and the Telemeter add on top.
 *
 *   npm run bench:one -- bench/redis-overhead.ts [--commands 20000] [--rounds 6] [--concurrency 32]
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { Telemeter } from 'telemeter';
import { instrumentRedis, redisMetrics } from 'telemeter/redis';
import { median } from './measure.js';
import { type GoalCheck, markdownTable, type SectionResult } from './report.js';

export interface RedisOverheadOptions {
  /** Commands per case and round (GET and SET alternating). Default 20,000. */
  readonly commands?: number;
  /** Rounds; each runs every case bare and instrumented. Default 6. */
  readonly rounds?: number;
  /** Commands in flight at once (as concurrent requests of a server would issue them). Default 32. */
  readonly concurrency?: number;
}

interface Figures {
  readonly commandsPerSecond: number;
  /** The application's CPU time (user + system) per command, in microseconds. */
  readonly cpuMicrosPerCommand: number;
}

type Case = 'bare' | 'channels' | 'instrumented';

interface CaseFigures {
  throughput: number[];
  cpu: number[];
  channelsThroughput: number[];
  bare: Figures[];
  channels: Figures[];
  instrumented: Figures[];
}

/** Subscribes handlers that do nothing to a library's command and batch channels; returns the unsubscribe. */
function subscribeNothing(library: string): () => void {
  const nothing = { start() {}, end() {}, asyncStart() {}, asyncEnd() {}, error() {} };
  const channels = [`${library}:command`, `${library}:batch`].map((name) =>
    diagnosticsChannel.tracingChannel(name),
  );
  for (const channel of channels) channel.subscribe(nothing);
  return () => {
    for (const channel of channels) channel.unsubscribe(nothing);
  };
}

function stopOf(instrumentation: { stop(): void }): () => void {
  return () => instrumentation.stop();
}

type Client = { get(key: string): Promise<unknown>; set(key: string, value: string): Promise<unknown> };

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

export async function runRedisOverhead(options: RedisOverheadOptions = {}): Promise<SectionResult> {
  const commands = options.commands ?? 20_000;
  const rounds = options.rounds ?? 6;
  const concurrency = options.concurrency ?? 32;
  const key = `telemeter-bench:${process.pid}`;
  const io = new Redis({ host: '127.0.0.1', port: 6379 });
  const node = createClient({ url: 'redis://127.0.0.1:6379' });
  await node.connect();
  const clients: Array<[string, Client]> = [
    ['ioredis', io],
    ['node-redis', node],
  ];
  const telemeter = new Telemeter({ metrics: redisMetrics() });
  const kept = new Map<string, CaseFigures>();
  try {
    for (const [name, client] of clients) {
      await load(client, 2_000, concurrency, key); // warm-up
      const figures: CaseFigures = {
        throughput: [],
        cpu: [],
        channelsThroughput: [],
        bare: [],
        channels: [],
        instrumented: [],
      };
      for (let round = 0; round < rounds; round++) {
        const order: Case[] =
          round % 2 === 0 ? ['bare', 'channels', 'instrumented'] : ['instrumented', 'channels', 'bare'];
        const pair: Partial<Record<Case, Figures>> = {};
        for (const which of order) {
          const detach =
            which === 'bare'
              ? () => {}
              : which === 'channels'
                ? subscribeNothing(name)
                : stopOf(instrumentRedis());
          pair[which] = await load(client, commands, concurrency, key);
          detach();
        }
        const bare = pair.bare as Figures;
        const instrumented = pair.instrumented as Figures;
        figures.bare.push(bare);
        figures.channels.push(pair.channels as Figures);
        figures.instrumented.push(instrumented);
        figures.throughput.push(instrumented.commandsPerSecond / bare.commandsPerSecond);
        figures.cpu.push(bare.cpuMicrosPerCommand / instrumented.cpuMicrosPerCommand);
        figures.channelsThroughput.push(
          (pair.channels as Figures).commandsPerSecond / bare.commandsPerSecond,
        );
        process.stderr.write(`redis-overhead: ${name} round ${round + 1}/${rounds}\n`);
      }
      kept.set(name, figures);
    }
  } finally {
    await io.del(key);
    io.disconnect();
    await node.close();
    telemeter.close();
  }
  const percent = (ratio: number) => `${(ratio * 100).toFixed(1)}%`;
  const rows = [...kept].flatMap(([name, f]) => [
    [
      `${name} bare`,
      median(f.bare.map((x) => x.commandsPerSecond)).toFixed(0),
      median(f.bare.map((x) => x.cpuMicrosPerCommand)).toFixed(2),
      '',
      '',
    ],
    [
      `${name} + a subscriber doing nothing`,
      median(f.channels.map((x) => x.commandsPerSecond)).toFixed(0),
      median(f.channels.map((x) => x.cpuMicrosPerCommand)).toFixed(2),
      percent(median(f.channelsThroughput)),
      '',
    ],
    [
      `${name} + instrumentRedis`,
      median(f.instrumented.map((x) => x.commandsPerSecond)).toFixed(0),
      median(f.instrumented.map((x) => x.cpuMicrosPerCommand)).toFixed(2),
      percent(median(f.throughput)),
      percent(median(f.cpu)),
    ],
  ]);
  const goals: GoalCheck[] = [...kept].map(([name, f]) => ({
    goal: `${name} commands/s with instrumentRedis >= 97% of bare`,
    measured: percent(median(f.throughput)),
    met: median(f.throughput) >= 0.97,
  }));
  return {
    tables: [
      {
        title: 'Redis: instrumentRedis overhead against the local Redis',
        header: ['case', 'commands/s', 'app CPU µs/command', 'throughput kept', 'CPU kept'],
        rows,
        notes: [
          `${commands} commands (SET and GET alternating) per case and round, ${concurrency} in flight, ${rounds} rounds; medians.`,
          'Kept = instrumented ÷ bare of the same round (CPU kept = bare CPU per command ÷ instrumented).',
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

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const result = await runRedisOverhead({
    commands: option('commands'),
    rounds: option('rounds'),
    concurrency: option('concurrency'),
  });
  for (const table of result.tables) process.stdout.write(markdownTable(table));
  for (const goal of result.goals)
    process.stdout.write(`- ${goal.goal}: ${goal.measured} (${goal.met ? 'met' : 'NOT met'})\n`);
}
