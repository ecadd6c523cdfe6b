/**
 * Soak: a steady event rate with a fixed label set for N minutes (default 10), scraped every 15 s like Prometheus
 * would, with the live heap sampled after a forced GC every 30 s. After warm-up the heap must stay flat: memory
 * follows series, never events. Not part of `npm test` or `npm run bench`; run it on its own:
 *
 *   npm run bench:one -- bench/soak.ts [--minutes 10] [--rate 50000] [--control]
 *
 * `--control` runs the same harness without emitting events: the growth that V8 and the harness show alone.
 */
import { parseArgs } from 'node:util';
import { counter, distribution, execute, summary, Telemeter } from 'telemeter';
import { markdownTable } from './report.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    rate: { type: 'string', default: '50000' },
    control: { type: 'boolean', default: false },
  },
});
const minutes = Number(values.minutes);
const rate = Number(values.rate);
const control = values.control === true;
if (!(minutes > 0 && minutes <= 120) || !(rate > 0 && rate <= 1_000_000)) {
  throw new Error('soak: --minutes must be in (0, 120] and --rate in (0, 1000000]');
}
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('soak: run with node --expose-gc');

const tags = ['route', 'method', 'status'];
const telemeter = new Telemeter({
  metrics: [
    counter('soak.request.count', { eventName: 'soak.request.stop', measurement: 'duration', tags }),
    distribution('soak.request.stop.duration', { unit: ['native', 'second'], tags }),
    summary('soak.request.stop.queue_time', { unit: ['native', 'millisecond'], tags: ['route'] }),
  ],
});
// A fixed label set: 12 routes × 3 methods × 5 statuses = 180 series per metric.
const metadata: Array<{ route: string; method: string; status: number }> = [];
for (let r = 0; r < 12; r++)
  for (const method of ['GET', 'POST', 'PUT'])
    for (const status of [200, 201, 404, 500, 503]) metadata.push({ route: `/r/${r}`, method, status });

let sent = 0;
const batch = Math.max(1, Math.round(rate / 100));
const pump = setInterval(() => {
  for (let i = 0; i < batch; i++, sent++) {
    if (!control)
      execute(
        'soak.request.stop',
        { duration: (sent % 5000) * 1e5, queue_time: (sent % 97) * 1e4 },
        metadata[sent % metadata.length],
      );
  }
}, 10);

let scrapes = 0;
let scrapedBytes = 0;
const scraper = setInterval(async () => {
  for (const chunk of telemeter.render({ format: 'openmetrics' })) {
    scrapedBytes += chunk.length;
    await new Promise((resolve) => setImmediate(resolve));
  }
  scrapes++;
}, 15_000);

const rows: string[][] = [];
const samples: Array<{ minute: number; heap: number }> = [];
const start = Date.now();
const sampler = setInterval(() => {
  gc();
  const minute = (Date.now() - start) / 60_000;
  const heap = process.memoryUsage().heapUsed;
  samples.push({ minute, heap });
  rows.push([minute.toFixed(1), (heap / 2 ** 20).toFixed(2), String(sent), String(scrapes)]);
  process.stderr.write(
    `soak: ${minute.toFixed(1)} min, heap ${(heap / 2 ** 20).toFixed(2)} MiB, ${sent} events\n`,
  );
}, 30_000);

setTimeout(() => {
  clearInterval(pump);
  clearInterval(scraper);
  clearInterval(sampler);
  telemeter.close();
  const warmUp = slopeAfter(Math.min(2, minutes / 2));
  // The summary's window (10 minutes in 5 slots) allocates each slot's sketches when the slot is first used, so
  // memory is expected to step up until the window has turned once; past that, the heap must be flat.
  const windowFilled = minutes >= 12 ? slopeAfter(11) : undefined;
  process.stdout.write(
    `${markdownTable({
      title: control
        ? `Soak control: ${minutes} min of the same harness, no events`
        : `Soak: ${minutes} min at ${rate} events/s, 180 series per metric`,
      header: ['minute', 'heap after GC (MiB)', 'events sent', 'scrapes'],
      rows,
    })}\nevents: ${sent}, scrapes: ${scrapes} (${(scrapedBytes / 2 ** 20).toFixed(1)} MiB rendered), heap slope after warm-up (2 min): ${(warmUp / 1024).toFixed(1)} KiB/min${windowFilled === undefined ? '' : `, after the summary window filled (11 min): ${(windowFilled / 1024).toFixed(1)} KiB/min`}\n`,
  );
}, minutes * 60_000);

/** Least-squares slope of the heap, in bytes per minute, over the samples from `fromMinute` on. */
function slopeAfter(fromMinute: number): number {
  const settled = samples.filter((s) => s.minute >= fromMinute);
  const n = settled.length;
  const mx = settled.reduce((a, s) => a + s.minute, 0) / n;
  const my = settled.reduce((a, s) => a + s.heap, 0) / n;
  return (
    settled.reduce((a, s) => a + (s.minute - mx) * (s.heap - my), 0) /
    Math.max(
      1e-9,
      settled.reduce((a, s) => a + (s.minute - mx) ** 2, 0),
    )
  );
}
