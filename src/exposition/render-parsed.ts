import type { ExpositionFormat } from './content-types.js';
import { formatCanonical, formatValue } from './number-format.js';
import type { ParsedFamily, ParsedSample } from './parse.js';

/** OpenMetrics sample suffixes whose values count, and so may be neither negative nor NaN there. */
const COUNTING_SUFFIXES = ['_total', '_bucket', '_count', '_gcount', '_sum'];

/**
 * Writes a parsed family in `format`, whichever format it was read from, by the rules telemeter's own renderer
 * follows: an OpenMetrics counter family is named without `_total` and its samples with it; `# UNIT` only in
 * OpenMetrics and only when the name ends in the unit; `le` and `quantile` in the canonical spelling in both
 * formats; timestamps in milliseconds for 0.0.4 and seconds for OpenMetrics; exemplars only in OpenMetrics.
 * What one format cannot say is left out of it: `_created` samples and exemplars in 0.0.4; in OpenMetrics,
 * negative or NaN counts and sums and negative quantiles (the spec forbids them; a histogram's count stays).
 * Returns '' for a family 0.0.4 has no type for (a gauge histogram).
 */
export function renderParsedFamily(family: ParsedFamily, format: ExpositionFormat): string {
  return format === 'openmetrics' ? renderOpenMetrics(family) : renderText(family);
}

function renderOpenMetrics(family: ParsedFamily): string {
  const { name, type } = family;
  let out = `# TYPE ${name} ${type}\n`;
  if (
    family.unit !== undefined &&
    name.endsWith(`_${family.unit}`) &&
    type !== 'info' &&
    type !== 'stateset'
  ) {
    out += `# UNIT ${name} ${family.unit}\n`;
  }
  if (family.help !== undefined) out += `# HELP ${name} ${escapeHelp(family.help, true)}\n`;
  for (const sample of family.samples) {
    // A 0.0.4 counter may be named without `_total`; OpenMetrics requires it on the sample.
    const sampleName = type === 'counter' && sample.name === name ? `${name}_total` : sample.name;
    const suffix = sampleName.slice(name.length);
    if (COUNTING_SUFFIXES.includes(suffix) && type !== 'gauge' && type !== 'unknown') {
      if (Number.isNaN(sample.value) || sample.value < 0) continue;
    }
    if (type === 'summary' && suffix === '' && sample.value < 0) continue;
    let line = sampleLine(sampleName, sample, type);
    if (sample.timestamp !== undefined) line += ` ${formatValue(sample.timestamp)}`;
    // The strict parser accepts exemplars on counter totals and histogram buckets only.
    if (
      sample.exemplar !== undefined &&
      ((type === 'counter' && suffix === '_total') ||
        ((type === 'histogram' || type === 'gaugehistogram') && suffix === '_bucket'))
    ) {
      line += ` # ${sample.exemplar}`;
    }
    out += `${line}\n`;
  }
  return out;
}

function renderText(family: ParsedFamily): string {
  const { type } = family;
  if (type === 'gaugehistogram') return '';
  const textType = type === 'unknown' ? 'untyped' : type === 'info' || type === 'stateset' ? 'gauge' : type;
  const name = family.textName;
  let out = '';
  if (family.help !== undefined) out += `# HELP ${name} ${escapeHelp(family.help, false)}\n`;
  out += `# TYPE ${name} ${textType}\n`;
  for (const sample of family.samples) {
    if (sample.name === `${family.name}_created` && type !== 'gauge' && type !== 'unknown') continue;
    const sampleName = type === 'counter' || type === 'info' ? name : sample.name;
    let line = sampleLine(sampleName, sample, type);
    if (sample.timestamp !== undefined) line += ` ${Math.round(sample.timestamp * 1000)}`;
    out += `${line}\n`;
  }
  return out;
}

function sampleLine(name: string, sample: ParsedSample, type: ParsedFamily['type']): string {
  const value = formatValue(sample.value);
  if (sample.labels.length === 0) return `${name} ${value}`;
  let block = '';
  for (const [label, raw] of sample.labels) {
    if (block !== '') block += ',';
    block += `${label}="${canonicalLabel(label, raw, type)}"`;
  }
  return `${name}{${block}} ${value}`;
}

/** `le` of a bucket and `quantile` of a summary in the spelling OpenMetrics requires (and Prometheus 3 stores). */
function canonicalLabel(label: string, raw: string, type: ParsedFamily['type']): string {
  const bound =
    (label === 'le' && (type === 'histogram' || type === 'gaugehistogram')) ||
    (label === 'quantile' && type === 'summary');
  if (!bound) return raw;
  const lower = raw.toLowerCase();
  const value =
    lower === '+inf' || lower === 'inf'
      ? Number.POSITIVE_INFINITY
      : lower === '-inf'
        ? Number.NEGATIVE_INFINITY
        : raw.trim() === ''
          ? Number.NaN
          : Number(raw);
  return Number.isNaN(value) ? raw : formatCanonical(value);
}

/** 0.0.4 escapes only backslash and line feed in HELP; OpenMetrics also escapes `"`. */
function escapeHelp(help: string, om: boolean): string {
  const pattern = om ? /[\\\n"]/g : /[\\\n]/g;
  return help.replace(pattern, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}
