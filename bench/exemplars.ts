/**
 * What exemplars cost the hot path: CPU ns per `execute` into a distribution with 3 tags (an existing series), without
 * the `exemplar` option, with an exemplar function that returns undefined (a sampled-out event), with one that
 * returns `{ trace_id, span_id }` on every event (each kept as its bucket's last exemplar), and with
 * `exemplar: 'opentelemetry'` and no active span; and heap bytes per event of each.
 *
 *   npm run bench:one -- bench/exemplars.ts [--quick]
 *
 * Reads the build in dist/ that `bench:one` makes first (the package's own name resolves to the main checkout).
 */
import { parseArgs } from 'node:util';
import type * as Telemeter from '../src/index.js';
import {
  type LoopCase,
  logUniform,
  measureAllocation,
  pairedRatio,
  seededRandom,
  sinkValue,
  timeInterleaved,
} from './measure.js';
import { markdownTable, ns, times } from './report.js';

const { values: args } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
const quick = args.quick === true;
const {
  Telemeter: TelemeterClass,
  distribution,
  execute,
} = (await import(new URL('../dist/index.js', import.meta.url).href)) as typeof Telemeter;

const POOL_SIZE = 4096;
const MASK = POOL_SIZE - 1;
const random = seededRandom(16);
const routes = ['/cart', '/products/:id', '/checkout', '/login', '/search', '/orders'];
const methods = ['GET', 'POST', 'PUT'];
const statuses = [200, 201, 404, 500];
const measurements = Array.from({ length: POOL_SIZE }, () => ({ duration: logUniform(random, 0.001, 20) }));
const metadata = Array.from({ length: POOL_SIZE }, (_, i) => ({
  route: routes[Math.floor(random() * routes.length)],
  method: methods[Math.floor(random() * methods.length)],
  status: statuses[Math.floor(random() * statuses.length)],
  // Strings made once: the exemplar function's own work is the object it returns, as a real one's would be.
  trace: (BigInt(i) * 0x9e3779b97f4a7c15n).toString(16).padStart(32, '0').slice(-32),
  span: (BigInt(i) * 0x85ebca6bn).toString(16).padStart(16, '0').slice(-16),
}));

type Md = (typeof metadata)[number];
const variants = {
  none: undefined,
  undefined: () => undefined,
  every: (md: Record<string, unknown>) => ({ trace_id: (md as Md).trace, span_id: (md as Md).span }),
  opentelemetry: 'opentelemetry' as const,
};
const telemeters = Object.entries(variants).map(([id, exemplar]) => {
  const event = `bench.ex.${id}`;
  return new TelemeterClass({
    metrics: [
      distribution(`${event}.duration`, {
        eventName: event,
        measurement: 'duration',
        tags: ['route', 'method', 'status'],
        ...(exemplar === undefined ? {} : { exemplar }),
      }),
    ],
    selfMetrics: false,
  });
});
const cases: LoopCase[] = Object.keys(variants).map((id) => {
  const event = `bench.ex.${id}`;
  return {
    id,
    run: (n) => {
      for (let i = 0; i < n; i++) execute(event, measurements[i & MASK], metadata[i & MASK]);
      return n;
    },
  };
});
for (const c of cases) c.run(POOL_SIZE * 4);

const settings = quick
  ? { roundMs: 20, rounds: 5, warmupMs: 50 }
  : { roundMs: 100, rounds: 15, warmupMs: 300 };
const timings = timeInterleaved(cases, settings);
const allocations = new Map<string, string>();
for (const c of cases) {
  const { bytesPerOp, gcsPerMillion } = await measureAllocation(c.run, quick ? 200_000 : 1_000_000);
  allocations.set(
    c.id,
    `${bytesPerOp === undefined ? '?' : bytesPerOp.toFixed(1)} (${gcsPerMillion.toFixed(0)} GC/1M)`,
  );
}
const none = timings.get('none')!;
const labels: Record<string, string> = {
  none: 'no `exemplar` option',
  undefined: 'exemplar function returns undefined',
  every: 'exemplar `{ trace_id, span_id }` on every event',
  opentelemetry: "`'opentelemetry'`, no active span",
};
console.log(
  markdownTable({
    title: `execute into a distribution with 3 tags, existing series (CPU ns per event, median of ${none.rounds} rounds)`,
    header: ['exemplar', 'ns per event', 'range', 'vs no option (paired)', 'heap bytes per event'],
    rows: cases.map(({ id }) => {
      const t = timings.get(id)!;
      return [
        labels[id],
        ns(t.nsPerOp),
        `${ns(t.minNs)}–${ns(t.maxNs)}`,
        id === 'none' ? '' : times(pairedRatio(t, none)),
        allocations.get(id) ?? '',
      ];
    }),
  }),
);
for (const t of telemeters) t.close();
console.error(`sink ${sinkValue()}`);
