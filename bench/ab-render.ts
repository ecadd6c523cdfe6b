/**
 * A/B of the scrape render: this checkout against another one (see `bench/ab.ts` for how to check one out), side by
 * side in one process, in interleaved rounds. Each side holds the same series with the same values; a round renders
 * each side's whole exposition once, in the order of the export section (`scrape()`, one string, then `render()`
 * consumed chunk by chunk), and the CPU time of each is compared. The bodies of both sides must be byte-identical,
 * which the script checks once per case before timing.
 *
 * Both sides run their build (`dist/`), as users do and as `npm run bench` measures: build each checkout first.
 *
 *   npm run build && (cd <dir of the other checkout> && npm run build)
 *   node --expose-gc --import tsx bench/ab-render.ts --base <dir of the other checkout> [--series 100000]
 *     [--rounds 9] [--kinds distribution,counter,summary]
 *
 * Prints, per case, the median CPU ms of each side and the median of the per-round ratios (this ÷ base).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { logUniform, seededRandom } from './measure.js';
import { SERIES_TAGS, seriesSet } from './series-set.js';

const { values } = parseArgs({
  options: {
    base: { type: 'string' },
    series: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '9' },
    kinds: { type: 'string', default: 'distribution,counter,summary' },
  },
});
if (values.base === undefined)
  throw new Error('bench/ab-render: --base <dir of the other checkout> is required');
const SERIES = Number(values.series);
const ROUNDS = Number(values.rounds);
if (
  !(
    Number.isInteger(SERIES) &&
    SERIES >= 100 &&
    SERIES <= 1_000_000 &&
    SERIES % 100 === 0 &&
    Number.isInteger(ROUNDS) &&
    ROUNDS > 0 &&
    ROUNDS <= 99
  )
) {
  throw new Error('bench/ab-render: --series must be a multiple of 100 in 100..1000000, --rounds 1..99');
}

type Library = typeof import('telemeter');

/** The build of the checkout in `dir`, as the package's exports point to it. */
async function build(dir: string): Promise<Library> {
  const entry = join(resolve(dir), 'dist', 'index.js');
  if (!existsSync(entry))
    throw new Error(`bench/ab-render: ${entry} is missing; run npm run build in ${dir}`);
  return (await import(pathToFileURL(entry).href)) as Library;
}
const base = await build(values.base);
const current = await build(fileURLToPath(new URL('..', import.meta.url)));

type Kind = 'counter' | 'distribution' | 'summary';
type Format = 'text' | 'openmetrics';
const KINDS = values.kinds.split(',');
const CASES = (
  [
    ['distribution', 'text'],
    ['distribution', 'openmetrics'],
    ['counter', 'text'],
    ['summary', 'text'],
  ] as Array<[Kind, Format]>
).filter(([kind]) => KINDS.includes(kind));
if (CASES.length === 0) throw new Error('bench/ab-render: --kinds takes distribution, counter and summary');

/** A Telemeter of `library` holding `SERIES` series of one 3-tag metric, each fed 1–3 seeded values. */
function holding(library: Library, side: string, kind: Kind): InstanceType<Library['Telemeter']> {
  const eventName = `ab.render.${side}.${kind}`;
  // The description is given, so the default one (which names the event) does not tell the sides apart.
  const common = { eventName, measurement: 'value', tags: SERIES_TAGS, description: 'A/B.' };
  const options = { ...common, unit: 'second' as const };
  const definition =
    kind === 'counter'
      ? library.counter('bench.render.requests', common)
      : kind === 'distribution'
        ? library.distribution('bench.render.duration.seconds', options)
        : library.summary('bench.render.latency.seconds', options);
  const telemeter = new library.Telemeter({ metrics: [definition], maxSeries: SERIES * 2 });
  const random = seededRandom(SERIES);
  const measurements = { value: 0 };
  seriesSet(SERIES).forEach((labels, index) => {
    for (let step = 0; step < 1 + (index % 3); step++) {
      measurements.value = logUniform(random, 0.001, 20);
      library.execute(eventName, measurements, labels);
    }
  });
  return telemeter;
}

/** CPU ms of one `scrape()` and of one `render()` consumed chunk by chunk, and the scraped body's length. */
function renderOnce(telemeter: InstanceType<Library['Telemeter']>, format: Format): [number, number, number] {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  let start = process.cpuUsage();
  const body = telemeter.scrape({ format });
  // A socket write flattens and encodes the string; byteLength does both, inside the timing, as the export section.
  const length = Buffer.byteLength(body);
  let used = process.cpuUsage(start);
  const scrapeMs = (used.user + used.system) / 1000;
  gc?.();
  start = process.cpuUsage();
  let bytes = 0;
  for (const chunk of telemeter.render({ format })) bytes += Buffer.byteLength(chunk);
  used = process.cpuUsage(start);
  if (bytes !== length) throw new Error(`bench/ab-render: render() gave ${bytes} bytes, scrape() ${length}`);
  return [scrapeMs, (used.user + used.system) / 1000, length];
}

const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];

process.stdout.write(
  `${SERIES.toLocaleString('en-US')} series of one 3-tag metric, ${ROUNDS} rounds\n\n` +
    '| case | base ms | this ms | this ÷ base (median of rounds) |\n|---|---:|---:|---:|\n',
);
for (const [kind, format] of CASES) {
  const sides = [holding(base, 'base', kind), holding(current, 'this', kind)];
  const [baseBody, thisBody] = sides.map((t) => t.scrape({ format }));
  if (baseBody !== thisBody) throw new Error(`bench/ab-render: ${kind} ${format}: the two bodies differ`);
  for (const side of sides) renderOnce(side, format);
  const times = [
    [[], []],
    [[], []],
  ] as number[][][];
  const ratios: number[][] = [[], []];
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which side goes first, so neither always runs on a warmer (or a more loaded) machine.
    const order = round % 2 === 0 ? [0, 1] : [1, 0];
    const measured: number[][] = [];
    for (const side of order) measured[side] = renderOnce(sides[side], format);
    for (let variant = 0; variant < 2; variant++) {
      times[0][variant].push(measured[0][variant]);
      times[1][variant].push(measured[1][variant]);
      ratios[variant].push(measured[1][variant] / measured[0][variant]);
    }
  }
  ['scrape()', 'render() chunks'].forEach((variant, v) => {
    process.stdout.write(
      `| ${kind}, ${format}, ${variant} | ${median(times[0][v]).toFixed(1)} | ${median(times[1][v]).toFixed(1)} | ${median(ratios[v]).toFixed(3)} |\n`,
    );
  });
  for (const side of sides) side.close();
}
