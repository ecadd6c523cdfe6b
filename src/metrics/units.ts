import { invalidOption } from '../errors.js';

/** Time units that Telemetry.Metrics converts between. `native` is telemeter's monotonic unit, nanoseconds. */
export type TimeUnit = 'native' | 'second' | 'millisecond' | 'microsecond' | 'nanosecond';
/** Byte units; decimal, as in Telemetry.Metrics (1 kilobyte = 1000 bytes). */
export type ByteUnit = 'byte' | 'kilobyte' | 'megabyte';
/** A unit: one of the convertible units, or any label such as `'request'`. */
export type Unit = TimeUnit | ByteUnit | (string & {});

// Per second, so that an integer division reproduces erlang:convert_time_unit/3.
const TIME_UNITS_PER_SECOND: Record<TimeUnit, number> = {
  second: 1,
  millisecond: 1e3,
  microsecond: 1e6,
  nanosecond: 1e9,
  native: 1e9,
};

const BYTE_FACTORS: Record<ByteUnit, number> = { megabyte: 1, kilobyte: 1000, byte: 1_000_000 };

/** Every time unit, for code that must handle each one (the Grafana dashboard's unit table). */
export const TIME_UNITS = Object.freeze(Object.keys(TIME_UNITS_PER_SECOND)) as readonly TimeUnit[];
/** Every byte unit. */
export const BYTE_UNITS = Object.freeze(Object.keys(BYTE_FACTORS)) as readonly ByteUnit[];

export function isTimeUnit(unit: string): unit is TimeUnit {
  return Object.hasOwn(TIME_UNITS_PER_SECOND, unit);
}

export function isByteUnit(unit: string): unit is ByteUnit {
  return Object.hasOwn(BYTE_FACTORS, unit);
}

/** erlang:convert_time_unit(1, from, to): an integer, 0 when converting down. */
function convertOne(from: TimeUnit, to: TimeUnit): number {
  return Math.floor(TIME_UNITS_PER_SECOND[to] / TIME_UNITS_PER_SECOND[from]);
}

/**
 * The factor that converts a measurement from `from` to `to`, with Telemetry.Metrics' exact ratios:
 * time up-conversions are integers, down-conversions `1 / n` (so `native → millisecond` is `1e-6`,
 * bit-identical to Erlang), and byte conversions are decimal.
 *
 * @throws when the two units are not both time units or both byte units.
 */
export function conversionRatio(from: string, to: string, metricName: string): number {
  if (isTimeUnit(from) && isTimeUnit(to)) {
    const up = convertOne(from, to);
    return up !== 0 ? up : 1 / convertOne(to, from);
  }
  if (isByteUnit(from) && isByteUnit(to)) {
    return BYTE_FACTORS[to] / BYTE_FACTORS[from];
  }
  invalidOption(
    `telemeter: metric "${metricName}": option unit: cannot convert "${from}" to "${to}"; a [from, to] unit must name two time units (native, second, millisecond, microsecond, nanosecond) or two byte units (byte, kilobyte, megabyte)`,
  );
}

/** Plural suffix used in OpenMetrics `# UNIT` lines and in names that carry a unit. */
export function unitSuffix(unit: string): string | undefined {
  switch (unit) {
    case 'second':
    case 'millisecond':
    case 'microsecond':
    case 'nanosecond':
    case 'byte':
    case 'kilobyte':
    case 'megabyte':
      return `${unit}s`;
    case 'native':
      return 'nanoseconds';
    default:
      return undefined;
  }
}
