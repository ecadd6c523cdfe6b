/**
 * A/B of telemeter's hot path: this checkout against another one (an earlier commit, checked out with
 * `git worktree add --detach <dir> <commit>` and `npm ci` there), side by side in one process, in interleaved
 * rounds. Both run the same events; the ratio of each round cancels the drift of a shared machine, which moves the
 * absolute figures of two separate runs by more than the change being measured.
 *
 *   node --import tsx bench/ab.ts --base <dir of the other checkout> [--events 2000000] [--rounds 9]
 *
 * Prints, per case, the median ns per event of each side and the median of the per-round ratios (this ÷ base).
 */
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    base: { type: 'string' },
    events: { type: 'string', default: '2000000' },
    rounds: { type: 'string', default: '9' },
  },
});
if (values.base === undefined) throw new Error('bench/ab: --base <dir of the other checkout> is required');
const EVENTS = Number(values.events);
const ROUNDS = Number(values.rounds);
if (
  !(
    Number.isInteger(EVENTS) &&
    EVENTS > 0 &&
    EVENTS <= 50_000_000 &&
    Number.isInteger(ROUNDS) &&
    ROUNDS > 0 &&
    ROUNDS <= 99
  )
) {
  throw new Error('bench/ab: --events must be 1..50000000 and --rounds 1..99');
}

type Library = typeof import('../src/index.js');
const base = (await import(pathToFileURL(join(resolve(values.base), 'src', 'index.ts')).href)) as Library;
const current = (await import('../src/index.js')) as Library;

// 180 tag sets of three tags, in a fixed shuffled order, as the hot-path section uses.
const TAG_SETS: Record<string, string>[] = [];
for (const route of ['/a', '/b', '/c', '/d', '/e', '/f']) {
  for (const status of ['200', '404', '500', '201', '302']) {
    for (const method of ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD'])
      TAG_SETS.push({ route, status, method });
  }
}
for (let i = TAG_SETS.length - 1; i > 0; i--) {
  const j = (i * 7919) % (i + 1);
  [TAG_SETS[i], TAG_SETS[j]] = [TAG_SETS[j], TAG_SETS[i]];
}

type Kind = 'counter' | 'sum' | 'lastValue' | 'distribution' | 'summary';
const CASES: Array<[Kind, number]> = [
  ['counter', 0],
  ['counter', 3],
  ['sum', 3],
  ['lastValue', 3],
  ['distribution', 0],
  ['distribution', 3],
  ['summary', 3],
];

/** A loop of `EVENTS` executes of one metric in `library`; returns CPU ns per event. */
function loop(library: Library, side: string, kind: Kind, tagCount: number): () => number {
  const eventName = `ab.${side}.${kind}.${tagCount}`;
  const tags = tagCount === 0 ? [] : ['route', 'status', 'method'];
  const reporterOptions =
    kind === 'distribution' ? { buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] } : {};
  const definition = library[kind](`${eventName}.value`, {
    eventName,
    measurement: 'value',
    tags,
    reporterOptions,
  });
  new library.Telemeter({ metrics: [definition], selfMetrics: false });
  const metadata = tagCount === 0 ? [{}] : TAG_SETS;
  const execute = library.execute;
  return () => {
    const start = process.cpuUsage();
    for (let i = 0; i < EVENTS; i++)
      execute(eventName, { value: (i & 1023) / 100 }, metadata[i % metadata.length]);
    const used = process.cpuUsage(start);
    return ((used.user + used.system) * 1000) / EVENTS;
  };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

process.stdout.write('| case | base ns | this ns | this ÷ base (median of rounds) |\n|---|---:|---:|---:|\n');
for (const [kind, tagCount] of CASES) {
  const baseLoop = loop(base, 'base', kind, tagCount);
  const thisLoop = loop(current, 'this', kind, tagCount);
  baseLoop();
  thisLoop();
  const baseTimes: number[] = [];
  const thisTimes: number[] = [];
  const ratios: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which side goes first, so neither always runs on a warmer (or a more loaded) machine.
    const first = round % 2 === 0 ? baseLoop() : thisLoop();
    const second = round % 2 === 0 ? thisLoop() : baseLoop();
    const [b, t] = round % 2 === 0 ? [first, second] : [second, first];
    baseTimes.push(b);
    thisTimes.push(t);
    ratios.push(t / b);
  }
  process.stdout.write(
    `| ${kind}, ${tagCount} tags | ${median(baseTimes).toFixed(1)} | ${median(thisTimes).toFixed(1)} | ${median(ratios).toFixed(3)} |\n`,
  );
}
