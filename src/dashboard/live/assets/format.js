// Number and unit formatting for the live dashboard page.

const SI = [
  [1e12, 'T'],
  [1e9, 'G'],
  [1e6, 'M'],
  [1e3, 'k'],
];

/** Trims a fixed-precision rendering: `12.50` → `12.5`, `3.000` → `3`. */
function trim(text) {
  return text.includes('.') && !text.includes('e') ? text.replace(/\.?0+$/, '') : text;
}

/**
 * A compact rendering of a number: integers below 10 000 exactly, larger magnitudes with an SI suffix,
 * fractions with 3 significant digits. `--` for null, NaN and infinities.
 * @param {number | null | undefined} value
 * @returns {string}
 */
export function formatNumber(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return '--';
  const magnitude = Math.abs(value);
  if (magnitude === 0) return '0';
  if (magnitude >= 1e15 || magnitude < 1e-6) return value.toExponential(2);
  for (const [scale, suffix] of SI) {
    if (magnitude >= scale && magnitude >= 1e4) return `${trim((value / scale).toPrecision(4))}${suffix}`;
  }
  if (Number.isInteger(value)) return String(value);
  return trim(value.toPrecision(magnitude >= 1 ? 4 : 3));
}

const UNIT_SYMBOLS = {
  second: 's',
  millisecond: 'ms',
  microsecond: 'µs',
  nanosecond: 'ns',
  byte: 'B',
  kilobyte: 'kB',
  megabyte: 'MB',
  unit: '',
};

/**
 * The unit shown on a chart: the metric's unit, per second for rates.
 * @param {{ unit: string, type: string, view: string }} metric
 * @returns {string}
 */
export function unitLabel(metric) {
  const symbol = Object.hasOwn(UNIT_SYMBOLS, metric.unit) ? UNIT_SYMBOLS[metric.unit] : metric.unit;
  if (metric.view !== 'rate') return symbol;
  if (metric.type === 'counter') return 'events/s';
  return symbol === '' ? '/s' : `${symbol}/s`;
}

/**
 * `1h 02m`, `3m 05s`, `12s`.
 * @param {number} seconds
 * @returns {string}
 */
export function formatDuration(seconds) {
  const s = Math.floor(seconds);
  const days = Math.floor(s / 86400);
  const hours = Math.floor((s % 86400) / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const pad = (n) => String(n).padStart(2, '0');
  if (days > 0) return `${days}d ${pad(hours)}h`;
  if (hours > 0) return `${hours}h ${pad(minutes)}m`;
  if (minutes > 0) return `${minutes}m ${pad(s % 60)}s`;
  return `${s}s`;
}

/**
 * The legend label of a series: `route=/cart status=200`, or `fallback` when it has no tags.
 * @param {readonly string[]} tagNames
 * @param {readonly string[]} tags
 * @param {string} fallback
 * @returns {string}
 */
export function seriesLabel(tagNames, tags, fallback) {
  if (tagNames.length === 0) return fallback;
  return tagNames.map((name, i) => `${name}=${tags[i]}`).join(' ');
}
