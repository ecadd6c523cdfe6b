import { counterFamilyName } from '../metrics/names.js';
import type {
  Exemplar,
  HistogramFamily,
  MetricFamily,
  ScalarFamily,
  SummaryFamily,
} from '../reporter/index.js';
import type { ExpositionFormat } from './content-types.js';
import { formatCanonical, formatValue } from './number-format.js';

/** Size at which a chunk is handed to the consumer; large enough to amortize, small enough to yield often. */
const CHUNK_SIZE = 64 * 1024;

/**
 * Renders families as Prometheus text 0.0.4 or OpenMetrics 1.0, in chunks of about 64 KiB.
 *
 * One walk serves both formats; they differ only where the specs differ: OpenMetrics names a counter's family
 * without the `_total` that its samples keep in both formats, writes `# UNIT`, escapes `"` in HELP, leaves out what
 * it forbids for negative observations (a histogram's `_sum` and `_count` when the sum is negative or a bucket is, a
 * summary's negative `_sum` and negative quantiles), writes the exemplars of families that keep them on `_total` and
 * `_bucket` lines (the only samples OpenMetrics 1.0 and Prometheus 2.42 accept them on), and ends with `# EOF`. With `createdSamples`, OpenMetrics
 * adds each counter, histogram and summary series' `_created` sample (0.0.4 has none). Label blocks were rendered when each series was created; `le` and `quantile` strings are
 * rendered once per family here. Each series is written whole, so its buckets, sum and count agree in a chunk.
 */
export function* renderExposition(
  families: readonly MetricFamily[],
  format: ExpositionFormat,
  createdSamples = false,
): Generator<string> {
  const om = format === 'openmetrics';
  // `_created` is an OpenMetrics sample; 0.0.4 has none (a Prometheus would store it as a gauge-like series).
  const created = om && createdSamples;
  let out = '';
  for (const family of families) {
    out += header(family, om);
    // Sorting many new series takes a while: hand the event loop back between steps, flushing what is ready.
    const steps = family.seriesOrder();
    let step = steps.next();
    while (!step.done) {
      yield flat(out);
      out = '';
      step = steps.next();
    }
    switch (family.kind) {
      case 'counter':
      case 'gauge':
        out = yield* scalarLines(
          family,
          step.value,
          out,
          created && family.kind === 'counter',
          om && family.exemplars,
        );
        break;
      case 'histogram':
        out = yield* histogramLines(family, step.value, out, om, created, om && family.exemplars);
        break;
      case 'summary':
        out = yield* summaryLines(family, step.value, out, om, created);
        break;
    }
  }
  if (om) out += '# EOF\n';
  yield flat(out);
}

// One generator per kind, each appending to the chunk it is handed and returning what it has not yet yielded. With
// the three loops in one generator, inside its loop over the families, the counter render measured 1-6% slower than
// reading the stores directly had; split, it measures the same (BENCHMARKS.md, issue 16).
//
// Whether a series is held is asked per series, not once before the yields between chunks: one that expired
// meanwhile must not be written out.

function* scalarLines(
  family: ScalarFamily,
  order: Uint32Array,
  out: string,
  created: boolean,
  exemplars: boolean,
): Generator<string, string> {
  const { name } = family;
  const createdName = `${counterFamilyName(name)}_created`;
  for (let i = 0; i < order.length; i++) {
    const s = order[i];
    if (!family.holds(s)) continue;
    const block = family.labelBlock(s);
    if (exemplars) {
      const sample = block === '' ? name : `${name}{${block}}`;
      out += `${sample} ${formatValue(family.value(s))}${exemplarSuffix(family.exemplar(s))}\n`;
    } else out += sampleLine(name, block, formatValue(family.value(s)));
    if (created) out += createdLine(createdName, block, family.created(s));
    if (out.length >= CHUNK_SIZE) {
      yield flat(out);
      out = '';
    }
  }
  return out;
}

function* histogramLines(
  family: HistogramFamily,
  order: Uint32Array,
  out: string,
  om: boolean,
  created: boolean,
  exemplars: boolean,
): Generator<string, string> {
  const { name, bounds, buckets } = family;
  const createdName = `${name}_created`;
  const les = [...bounds.map((b) => `le="${formatCanonical(b)}"`), 'le="+Inf"'];
  const bucketName = `${name}_bucket`;
  const omitSum = om && bounds[0] < 0;
  for (let i = 0; i < order.length; i++) {
    const s = order[i];
    if (!family.holds(s)) continue;
    const block = family.labelBlock(s);
    const prefix = block === '' ? `${bucketName}{` : `${bucketName}{${block},`;
    let cumulative = 0;
    if (exemplars) {
      for (let b = 0; b < buckets; b++) {
        cumulative += family.bucketCount(s, b);
        out += `${prefix}${les[b]}} ${formatValue(cumulative)}${exemplarSuffix(family.exemplar(s, b))}\n`;
      }
    } else {
      for (let b = 0; b < buckets; b++) {
        cumulative += family.bucketCount(s, b);
        out += `${prefix}${les[b]}} ${formatValue(cumulative)}\n`;
      }
    }
    // OpenMetrics forbids a negative sum, and a sum at all where buckets are negative; its count comes and goes
    // with its sum. The +Inf bucket still holds the count.
    const sum = family.sum(s);
    if (!(omitSum || (om && sum < 0))) {
      out += sampleLine(`${name}_sum`, block, formatValue(sum));
      out += sampleLine(`${name}_count`, block, formatValue(cumulative));
    }
    if (created) out += createdLine(createdName, block, family.created(s));
    if (out.length >= CHUNK_SIZE) {
      yield flat(out);
      out = '';
    }
  }
  return out;
}

function* summaryLines(
  family: SummaryFamily,
  order: Uint32Array,
  out: string,
  om: boolean,
  created: boolean,
): Generator<string, string> {
  const { name, quantiles } = family;
  const createdName = `${name}_created`;
  const quantileLabels = quantiles.map((q) => `quantile="${formatCanonical(q)}"`);
  for (let i = 0; i < order.length; i++) {
    const s = order[i];
    if (!family.holds(s)) continue;
    const block = family.labelBlock(s);
    const window = family.window(s);
    const prefix = block === '' ? `${name}{` : `${name}{${block},`;
    for (let q = 0; q < quantileLabels.length; q++) {
      const value = window.quantile(quantiles[q]);
      // OpenMetrics forbids negative quantile values: those lines are left out there.
      if (!(om && value < 0)) out += `${prefix}${quantileLabels[q]}} ${formatValue(value)}\n`;
    }
    const sum = family.sum(s);
    if (!(om && sum < 0)) out += sampleLine(`${name}_sum`, block, formatValue(sum));
    out += sampleLine(`${name}_count`, block, formatValue(family.count(s)));
    if (created) out += createdLine(createdName, block, family.created(s));
    if (out.length >= CHUNK_SIZE) {
      yield flat(out);
      out = '';
    }
  }
  return out;
}

/**
 * Flattens a chunk built by `+=` before it leaves the renderer. V8 keeps such a string as a tree of thousands of
 * pieces; reading one character makes it copy them into one flat string, once, here, instead of in every consumer
 * (a socket write, gzip, a join) and instead of keeping the whole tree alive for the GC to trace.
 */
function flat(chunk: string): string {
  chunk.charCodeAt(0);
  return chunk;
}

function header(family: MetricFamily, om: boolean): string {
  if (!om) {
    return `# HELP ${family.name} ${escapeHelp(family.help, false)}\n# TYPE ${family.name} ${family.kind}\n`;
  }
  const name = family.kind === 'counter' ? counterFamilyName(family.name) : family.name;
  const unit = family.unit === undefined ? '' : `# UNIT ${name} ${family.unit}\n`;
  return `# TYPE ${name} ${family.kind}\n${unit}# HELP ${name} ${escapeHelp(family.help, true)}\n`;
}

function sampleLine(name: string, block: string, value: string): string {
  return block === '' ? `${name} ${value}\n` : `${name}{${block}} ${value}\n`;
}

/**
 * An OpenMetrics exemplar, ` # {trace_id="…"} 0.67 1520879607.789`, or nothing. The timestamp is when the
 * exemplar was recorded, never the scrape's: Prometheus stores an exemplar again whenever its timestamp changes,
 * so one stamped at each scrape would fill its exemplar buffer with copies.
 */
function exemplarSuffix(exemplar: Exemplar | undefined): string {
  if (exemplar === undefined) return '';
  return ` # {${exemplar.labelBlock}} ${formatValue(exemplar.value)} ${formatValue(exemplar.timestamp / 1000)}`;
}

/**
 * OpenMetrics' `_created` sample: the series' creation time in seconds since the epoch, to the millisecond.
 * Nothing when the time is unknown (0).
 */
function createdLine(name: string, block: string, milliseconds: number): string {
  return milliseconds > 0 ? sampleLine(name, block, formatValue(milliseconds / 1000)) : '';
}

/** 0.0.4 escapes only backslash and line feed in HELP (`\"` is an error there); OpenMetrics also escapes `"`. */
function escapeHelp(help: string, om: boolean): string {
  const pattern = om ? /[\\\n"]/g : /[\\\n]/g;
  return help.replace(pattern, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}
