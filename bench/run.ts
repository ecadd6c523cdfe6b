import { readFileSync } from 'node:fs';
import { cpus, platform, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runDataLayer } from './data-layer.js';
import { runExport } from './export.js';
import { runHotPath } from './hot-path.js';
import { runHttpOverhead } from './http-overhead.js';
import { sinkValue } from './measure.js';
import { runMemory } from './memory.js';
import { runProtobufEncoders } from './protobuf-encoders.js';
import { type GoalCheck, goalsTable, markdownTable, mib, type SectionResult, type Table } from './report.js';
import { runScrapeSection } from './scrape-wall.js';

/**
 * The benchmark suite's single entry: `npm run bench [-- --quick] [-- --only hot-path,export,scrape,memory,http,data]`.
 * Runs the chosen sections one after another in this process and prints markdown tables to stdout
 * (progress goes to stderr). Nothing is written to disk.
 */

const SECTIONS = ['hot-path', 'export', 'scrape', 'memory', 'http', 'data'] as const;
type Section = (typeof SECTIONS)[number];

interface Args {
  readonly quick: boolean;
  readonly only: ReadonlySet<Section>;
}

function parseArgs(argv: readonly string[]): Args {
  let quick = false;
  let only = new Set<Section>(SECTIONS);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quick') quick = true;
    else if (arg === '--only' || arg.startsWith('--only=')) {
      const list = arg === '--only' ? argv[++i] : arg.slice('--only='.length);
      if (list === undefined || list === '')
        throw new Error('bench: --only needs a list, e.g. --only hot-path,memory');
      const names = list.split(',').map((s) => s.trim());
      for (const name of names) {
        if (!(SECTIONS as readonly string[]).includes(name)) {
          throw new Error(`bench: unknown section "${name}" in --only; sections are ${SECTIONS.join(', ')}`);
        }
      }
      only = new Set(names as Section[]);
    } else if (arg === '--help' || arg === '-h') {
      process.stdout.write(`usage: npm run bench -- [--quick] [--only ${SECTIONS.join(',')}]\n`);
      process.exit(0);
    } else {
      throw new Error(`bench: unknown argument "${arg}"; use --quick and --only ${SECTIONS.join(',')}`);
    }
  }
  return { quick, only };
}

const root = fileURLToPath(new URL('..', import.meta.url));

function versionOf(packageDir: string): string {
  try {
    return (JSON.parse(readFileSync(`${root}${packageDir}/package.json`, 'utf8')) as { version: string })
      .version;
  } catch {
    return 'not installed';
  }
}

function environmentTable(args: Args): Table {
  const cpu = cpus();
  return {
    title: 'Environment',
    header: ['item', 'value'],
    textColumns: 2,
    rows: [
      ['machine', `${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores, ${mib(totalmem())} MiB RAM`],
      ['os', `${platform()} ${release()}`],
      ['node', process.version],
      ['telemeter', versionOf('')],
      ['prom-client', versionOf('node_modules/prom-client')],
      ['@opentelemetry/sdk-metrics', versionOf('node_modules/@opentelemetry/sdk-metrics')],
      ['@opentelemetry/exporter-prometheus', versionOf('node_modules/@opentelemetry/exporter-prometheus')],
      [
        'data-layer clients',
        ['pg', 'mysql2', 'ioredis', 'redis', 'bullmq']
          .map((name) => `${name} ${versionOf(`node_modules/${name}`)}`)
          .join(', '),
      ],
      ['V8 flags', '--expose-gc, --no-flush-bytecode (set at start so heap readings do not drift)'],
      ['mode', args.quick ? 'quick (smoke test: short rounds, small sizes; figures are rough)' : 'full'],
      ['sections', [...args.only].join(', ')],
    ],
  };
}

async function runHttp(quick: boolean): Promise<SectionResult> {
  // Throughput on a shared 2-core machine drifts by tens of percent between runs: several short rounds, each
  // case once per round, and the median of the per-round ratios of each case to its bare server.
  const rate = 2000;
  const rows = await runHttpOverhead({ durationSeconds: quick ? 1 : 3, rounds: quick ? 1 : 9, rate });
  const percent = (ratio: number) => `${(100 * ratio).toFixed(1)}%`;
  const instrumented = rows.filter((r) => r.id.endsWith('+telemeter'));
  return {
    tables: [
      {
        title: 'HTTP overhead (autocannon on loopback, from bench/http-overhead.ts)',
        header: [
          'server',
          'requests/s at saturation',
          'kept',
          'CPU µs/request at saturation',
          'CPU kept',
          `CPU µs/request at ${rate}/s`,
          'CPU kept',
        ],
        rows: rows.map((r) => [
          r.name,
          r.saturation.requestsPerSecond.toFixed(0),
          percent(r.kept.throughput),
          r.saturation.cpuMicrosPerRequest.toFixed(1),
          percent(r.kept.cpuAtSaturation),
          r.fixedRate.cpuMicrosPerRequest.toFixed(1),
          percent(r.kept.cpuAtFixedRate),
        ]),
        notes: [
          `16 keep-alive connections, one request in flight each; each server in its own process, alone on one CPU and autocannon on another where the machine has two; saturation is a closed loop, the fixed rate an open loop at ${rate} requests/s; a "kept" column is the median over the rounds of the bare server's figure divided by this one's (its baseline: bare node:http, or bare Express 5).`,
        ],
      },
    ],
    goals: instrumented.flatMap((r) => {
      const goal = r.id.startsWith('express') ? 0.97 : 0.95;
      const what = `HTTP: ${r.name} keeps at least ${percent(goal)} of ${r.baseline}`;
      return [
        {
          goal: `${what}'s throughput at saturation`,
          measured: percent(r.kept.throughput),
          met: r.kept.throughput >= goal,
        },
        {
          goal: `${what}'s CPU per request at saturation`,
          measured: `${percent(r.kept.cpuAtSaturation)} (${r.saturation.cpuMicrosPerRequest.toFixed(1)} µs)`,
          met: r.kept.cpuAtSaturation >= goal,
        },
        {
          goal: `${what}'s CPU per request at ${rate} requests/s`,
          measured: `${percent(r.kept.cpuAtFixedRate)} (${r.fixedRate.cpuMicrosPerRequest.toFixed(1)} µs)`,
          met: r.kept.cpuAtFixedRate >= goal,
        },
      ];
    }),
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (typeof (globalThis as { gc?: unknown }).gc !== 'function') {
    throw new Error(
      'bench: run with `node --expose-gc --import tsx bench/run.ts` (that is what npm run bench does)',
    );
  }
  // Forced GCs age bytecode quickly, and V8 then flushes it: heap readings would drift down by compiled code
  // that has nothing to do with the series being measured. Keep bytecode for the whole run.
  setFlagsFromString('--no-flush-bytecode');
  const progress = (message: string) => process.stderr.write(`[bench] ${message}\n`);
  const print = (table: Table) => process.stdout.write(`${markdownTable(table)}\n`);

  process.stdout.write('## telemeter benchmarks\n\n');
  print(environmentTable(args));

  const goals: GoalCheck[] = [];
  const sections: Record<Section, () => Promise<SectionResult>> = {
    'hot-path': () => runHotPath({ quick: args.quick, progress }),
    export: async () => {
      const text = await runExport({ quick: args.quick, progress });
      const protobuf = await runProtobufEncoders({ quick: args.quick, progress });
      return { tables: [...text.tables, ...protobuf.tables], goals: [...text.goals, ...protobuf.goals] };
    },
    scrape: () => runScrapeSection({ quick: args.quick, progress }),
    memory: () => runMemory({ quick: args.quick, progress }),
    http: () => runHttp(args.quick),
    data: () => runDataLayer({ quick: args.quick, progress }),
  };
  for (const name of SECTIONS) {
    if (!args.only.has(name)) continue;
    progress(`section ${name}`);
    const started = performance.now();
    const result = await sections[name]();
    for (const table of result.tables) print(table);
    goals.push(...result.goals);
    progress(`section ${name} took ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  if (goals.length > 0) print(goalsTable(goals));
  // Printing the sink keeps every loop's result observable to the JIT.
  process.stderr.write(`[bench] done (checksum ${sinkValue()})\n`);
}

main().catch((error: unknown) => {
  // Usage errors are ours and say what to do; anything else gets its stack.
  const usage = error instanceof Error && error.message.startsWith('bench: ');
  process.stderr.write(
    `${error instanceof Error ? (usage ? error.message : (error.stack ?? error.message)) : String(error)}\n`,
  );
  process.exitCode = 1;
});
