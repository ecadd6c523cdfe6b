import type { HistogramFamily, MetricFamily, SummaryFamily } from '../reporter/index.js';
import { bucketValues } from './bucket-values.js';
import { formatDecimal, sampleRateSuffixes } from './decimal.js';
import type { ResolvedStatsdOptions } from './options.js';
import { renderTagField, sanitizeMetricName } from './tags.js';

/**
 * One unit of a packet: one StatsD line, or a few that must travel together (a negative gauge's reset, a count
 * split across two sample rates). When its packet is sent, `set` stores `setValue` at `setIndex` and `add` adds
 * `addValue` at `addIndex`: that is how "last sent" advances only for what reached the socket.
 */
export interface Line {
  readonly text: string;
  /** UTF-8 length of `text`. */
  readonly bytes: number;
  /** Name of the metric, for diagnostics. */
  readonly metric: string;
  readonly set: Float64Array | undefined;
  readonly setIndex: number;
  readonly setValue: number;
  readonly add: Float64Array | undefined;
  readonly addIndex: number;
  readonly addValue: number;
}

/** Applies a sent line's bookkeeping. */
export function commitLine(line: Line): void {
  if (line.set !== undefined) line.set[line.setIndex] = line.setValue;
  if (line.add !== undefined) line.add[line.addIndex] += line.addValue;
}

/** What was last sent for one family: the values deltas are taken against, and each series' tag field. */
interface FamilyState {
  readonly name: string;
  /** Counters and sums: value last sent per series. Histograms: bucket counts per slot. Summaries: counts. */
  sent: Float64Array;
  /** Histograms: the part of each series' sum already sent as bucket values. Summaries: the sum sent. */
  sentSums: Float64Array;
  readonly tagFields: string[];
  /**
   * The incarnation of each series id when its tag field was rendered: an id whose series expired
   * (`idleTimeout`) may name a new series later, which starts from zero with tags of its own.
   */
  readonly incarnations: number[];
  /** Histograms: the bucket bounds, as `bucketValues` takes them. */
  readonly bounds: Float64Array;
}

/**
 * Turns a Telemeter's families into StatsD lines, each flush, and keeps the "last sent" state the deltas are
 * computed against. State is kept per series id; an id that expired and now names another series (its
 * incarnation changed) starts again from zero, with the new series' tags.
 */
export class LineBuilder {
  private readonly states: FamilyState[];
  private readonly distributionSuffix: string;
  // Scratch space for bucketValues, sized for the widest distribution seen.
  private buckets = new Float64Array(0);
  private values = new Float64Array(0);
  private lower = new Float64Array(0);
  private upper = new Float64Array(0);

  constructor(
    private readonly families: readonly MetricFamily[],
    private readonly options: ResolvedStatsdOptions,
  ) {
    this.states = families.map((family) => ({
      name: options.prefix + sanitizeMetricName(family.definition?.name ?? family.name),
      sent: new Float64Array(0),
      sentSums: new Float64Array(0),
      tagFields: [],
      incarnations: [],
      bounds: Float64Array.from(family.kind === 'histogram' ? family.bounds : []),
    }));
    this.distributionSuffix = `|${options.distributionType}`;
  }

  /** Every line due now: non-zero deltas of counters, every gauge, grown buckets, summary deltas and quantiles. */
  build(): Line[] {
    const lines: Line[] = [];
    for (let f = 0; f < this.families.length; f++) {
      const family = this.families[f];
      const state = this.states[f];
      const size = family.seriesIdLimit;
      const slots = family.kind === 'histogram' ? family.buckets : 1;
      state.sent = grown(state.sent, size * slots);
      state.sentSums = grown(state.sentSums, size);
      this.refreshSeries(family, state, size, slots);
      switch (family.kind) {
        case 'counter':
          for (let s = 0; s < size; s++) {
            if (family.holds(s)) this.counterLine(lines, state, s, family.value(s));
          }
          break;
        case 'gauge': {
          for (let s = 0; s < size; s++) {
            if (family.holds(s)) this.gaugeLine(lines, state.name, family.value(s), state.tagFields[s]);
          }
          break;
        }
        case 'histogram':
          this.histogramLines(lines, state, family, size);
          break;
        case 'summary':
          this.summaryLines(lines, state, family, size);
          break;
      }
    }
    return lines;
  }

  /**
   * Renders the tag field of each new series id, and of each id that names another series than when it was
   * rendered; such an id's "last sent" values go back to zero, since its new series started from zero.
   */
  private refreshSeries(family: MetricFamily, state: FamilyState, size: number, slots: number): void {
    for (let s = 0; s < size; s++) {
      // An id that holds no series now keeps its state until it names one again.
      if (!family.holds(s)) continue;
      const incarnation = family.incarnation(s);
      if (s < state.tagFields.length) {
        if (state.incarnations[s] === incarnation) continue;
        state.sent.fill(0, s * slots, (s + 1) * slots);
        state.sentSums[s] = 0;
      }
      state.tagFields[s] = this.tagFieldOf(family, s);
      state.incarnations[s] = incarnation;
    }
  }

  private tagFieldOf(family: MetricFamily, series: number): string {
    if (this.options.format !== 'datadog') return '';
    const labels: Array<[string, string]> = [];
    family.forEachLabel(series, (name, value) => labels.push([name, value]));
    return renderTagField(labels, this.options.globalTags);
  }

  private counterLine(lines: Line[], state: FamilyState, s: number, value: number): void {
    const delta = value - state.sent[s];
    if (delta === 0 || !Number.isFinite(delta)) return;
    lines.push(
      line(`${state.name}:${formatDecimal(delta)}|c${state.tagFields[s]}`, state.name, state.sent, s, value),
    );
  }

  /**
   * A gauge line. Plain StatsD reads a leading sign as "change by", so a negative value is sent after a reset to 0,
   * in the same packet; DogStatsD gauges are always absolute.
   */
  private gaugeLine(lines: Line[], name: string, value: number, tags: string): void {
    if (!Number.isFinite(value)) return;
    const text = `${name}:${formatDecimal(value)}|g${tags}`;
    lines.push(
      line(value < 0 && this.options.format === 'statsd' ? `${name}:0|g${tags}\n${text}` : text, name),
    );
  }

  private histogramLines(lines: Line[], state: FamilyState, family: HistogramFamily, size: number): void {
    const { bounds } = state;
    const slots = family.buckets;
    if (this.buckets.length < slots) {
      this.buckets = new Float64Array(slots);
      this.values = new Float64Array(slots);
      this.lower = new Float64Array(slots);
      this.upper = new Float64Array(slots);
    }
    const grownBy = this.buckets;
    const values = this.values;
    for (let s = 0; s < size; s++) {
      if (!family.holds(s)) continue;
      const base = s * slots;
      let any = false;
      for (let b = 0; b < slots; b++) {
        const delta = family.bucketCount(s, b) - state.sent[base + b];
        grownBy[b] = Math.max(delta, 0);
        if (delta > 0) any = true;
      }
      if (!any) continue;
      bucketValues(bounds, grownBy, family.sum(s) - state.sentSums[s], values, this.lower, this.upper);
      const tags = state.tagFields[s];
      for (let b = 0; b < slots; b++) {
        const count = grownBy[b];
        if (count === 0) continue;
        const value = Number.isFinite(values[b]) ? values[b] : b === 0 ? bounds[0] : bounds[b - 1];
        const head = `${state.name}:${formatDecimal(value)}${this.distributionSuffix}`;
        const text = sampleRateSuffixes(count)
          .map((rate) => head + rate + tags)
          .join('\n');
        lines.push({
          text,
          bytes: Buffer.byteLength(text),
          metric: state.name,
          set: state.sent,
          setIndex: base + b,
          setValue: family.bucketCount(s, b),
          add: state.sentSums,
          addIndex: s,
          addValue: count * value,
        });
      }
    }
  }

  /**
   * Summaries keep quantiles over a sliding window, which has no deltas to send as samples. So a summary is sent as
   * `<name>.count` and `<name>.sum` counters (deltas of its lifetime count and sum) and one gauge per quantile,
   * `<name>.p50`, `<name>.p99`, `<name>.p99_9` (only while the window holds observations).
   */
  private summaryLines(lines: Line[], state: FamilyState, family: SummaryFamily, size: number): void {
    const { quantiles } = family;
    const quantileNames = quantiles.map((q) => `${state.name}.p${quantileSuffix(q)}`);
    for (let s = 0; s < size; s++) {
      if (!family.holds(s)) continue;
      const tags = state.tagFields[s];
      const total = family.count(s);
      const countDelta = total - state.sent[s];
      if (countDelta !== 0 && Number.isFinite(countDelta)) {
        const name = `${state.name}.count`;
        lines.push(line(`${name}:${formatDecimal(countDelta)}|c${tags}`, name, state.sent, s, total));
      }
      const sum = family.sum(s);
      const sumDelta = sum - state.sentSums[s];
      if (sumDelta !== 0 && Number.isFinite(sumDelta)) {
        const name = `${state.name}.sum`;
        lines.push(line(`${name}:${formatDecimal(sumDelta)}|c${tags}`, name, state.sentSums, s, sum));
      }
      const window = family.window(s);
      if (window.count === 0) continue;
      for (let q = 0; q < quantiles.length; q++) {
        this.gaugeLine(lines, quantileNames[q], window.quantile(quantiles[q]), tags);
      }
    }
  }
}

function line(text: string, metric: string, set?: Float64Array, setIndex = 0, setValue = 0): Line {
  return {
    text,
    bytes: Buffer.byteLength(text),
    metric,
    set,
    setIndex,
    setValue,
    add: undefined,
    addIndex: 0,
    addValue: 0,
  };
}

/** `0.5 → 50`, `0.999 → 99_9`, `1 → 100`: the percentile, with `_` for its decimal point. */
function quantileSuffix(q: number): string {
  return formatDecimal(Math.round(q * 100 * 1e9) / 1e9).replace('.', '_');
}

/** `array` with room for `length` entries, keeping its contents. */
function grown(array: Float64Array, length: number): Float64Array {
  if (array.length >= length) return array;
  const next = new Float64Array(Math.max(length, array.length * 2, 8));
  next.set(array);
  return next;
}
