import type { ByteUnit, TimeUnit } from '../metrics/units.js';
import type { ExportedMetric } from './exported-metrics.js';

/**
 * How a panel shows a metric: Grafana's unit id, and the factor the query multiplies the stored value by
 * (1, except for timestamps: Grafana's date units read milliseconds since the epoch, Prometheus stores seconds).
 */
export interface GrafanaDisplay {
  readonly unit: string;
  readonly factor: number;
}

/** Unit labels of Prometheus's naming conventions that Grafana has an id for. */
type ConventionalUnit = 'celsius' | 'fahrenheit' | 'kelvin' | 'percent' | 'ratio';
type KnownUnit = TimeUnit | ByteUnit | ConventionalUnit;

interface UnitIds {
  /** Grafana's id for a value in this unit. */
  readonly value: string;
  /** Grafana's id for this unit per second, or undefined when it has none (then `suffix:<symbol>/s`). */
  readonly rate: string | undefined;
  readonly symbol: string;
}

/**
 * Grafana's ids, from its `packages/grafana-data/src/valueFormats/categories.ts`. An id Grafana does not
 * know is no error there: it prints the id after every value as text, so a test checks each against that list.
 * Keyed by TimeUnit and ByteUnit, so a unit added to src/metrics/units.ts does not compile without its ids.
 */
const UNITS: Readonly<Record<KnownUnit, UnitIds>> = {
  second: { value: 's', rate: 'percentunit', symbol: 's' },
  millisecond: { value: 'ms', rate: undefined, symbol: 'ms' },
  microsecond: { value: 'µs', rate: undefined, symbol: 'µs' },
  nanosecond: { value: 'ns', rate: undefined, symbol: 'ns' },
  native: { value: 'ns', rate: undefined, symbol: 'ns' },
  // telemeter's kilobyte and megabyte are decimal (1000 bytes), as Grafana's `deckbytes` and `KBs` are.
  byte: { value: 'bytes', rate: 'Bps', symbol: 'B' },
  kilobyte: { value: 'deckbytes', rate: 'KBs', symbol: 'kB' },
  megabyte: { value: 'decmbytes', rate: 'MBs', symbol: 'MB' },
  celsius: { value: 'celsius', rate: undefined, symbol: '°C' },
  fahrenheit: { value: 'fahrenheit', rate: undefined, symbol: '°F' },
  kelvin: { value: 'kelvin', rate: undefined, symbol: 'K' },
  percent: { value: 'percent', rate: undefined, symbol: '%' },
  ratio: { value: 'percentunit', rate: undefined, symbol: '' },
};

/** The currencies Grafana has a unit for (`currencyEUR`, …), by ISO 4217 code. */
const CURRENCIES: ReadonlySet<string> = new Set([
  'USD',
  'GBP',
  'EUR',
  'JPY',
  'RUB',
  'UAH',
  'BRL',
  'DKK',
  'ISK',
  'NOK',
  'SEK',
  'CZK',
  'CHF',
  'PLN',
  'BTC',
  'ZAR',
  'INR',
  'KRW',
]);

/** Name suffixes of Prometheus's base units, for metrics whose definition names no unit. */
const SUFFIX_UNITS: ReadonlyArray<readonly [suffix: string, unit: KnownUnit]> = [
  ['_seconds', 'second'],
  ['_bytes', 'byte'],
  ['_celsius', 'celsius'],
  ['_ratio', 'ratio'],
];

/**
 * A point in time: `process_start_time_seconds` and the `*_timestamp_seconds` of the naming conventions.
 * Shown as a date; as a duration it would read "55.4 years".
 */
const TIMESTAMP = /(^|_)(start_time|timestamp)_seconds$/;

type MetricUnit = { kind: 'known'; ids: UnitIds } | { kind: 'currency'; code: string } | undefined;

function unitOf(metric: ExportedMetric): MetricUnit {
  if (Object.hasOwn(UNITS, metric.unit)) return { kind: 'known', ids: UNITS[metric.unit as KnownUnit] };
  // A unit label is free text: `unit: 'EUR'` or `unit: 'eur'` on a sum of order values.
  const code = metric.unit.toUpperCase();
  if (CURRENCIES.has(code)) return { kind: 'currency', code };
  // The family of a counter may end in `_total`; the unit comes before it.
  const family = metric.family.replace(/_total$/, '');
  const bySuffix = SUFFIX_UNITS.find(([suffix]) => family.endsWith(suffix));
  return bySuffix === undefined ? undefined : { kind: 'known', ids: UNITS[bySuffix[1]] };
}

/** How a panel shows the values of `metric`: a gauge's, or the observations of a histogram or summary. */
export function valueDisplay(metric: ExportedMetric): GrafanaDisplay {
  if (metric.kind === 'gauge' && TIMESTAMP.test(metric.family))
    return { unit: 'dateTimeAsIso', factor: 1000 };
  const unit = unitOf(metric);
  if (unit === undefined) return { unit: 'short', factor: 1 };
  return { unit: unit.kind === 'currency' ? `currency${unit.code}` : unit.ids.value, factor: 1 };
}

/**
 * Grafana's unit for the per-second rate of a counter. A `counter` definition counts events whatever it
 * measures (`ops`); a `sum` adds up its measurement, so its rate is that unit per second: seconds per second
 * is a share of a core or of wall time, bytes per second a data rate, and a unit Grafana has no rate id for
 * (money, milliseconds, degrees) gets a `suffix:` unit. Never `ops` for a sum: that would count euros as orders.
 */
export function rateUnit(metric: ExportedMetric): string {
  if (metric.countsEvents) return 'ops';
  const unit = unitOf(metric);
  if (unit === undefined) return 'short';
  if (unit.kind === 'currency') return `suffix:${unit.code}/s`;
  return unit.ids.rate ?? `suffix:${unit.ids.symbol}/s`;
}
