// `|` ends a field, `,` ends a tag, `#` opens the tag field, and a line feed ends the line; a colon splits a tag's
// name from its value at its first occurrence, so it is only unsafe in the name.
const UNSAFE_IN_TAG_NAME = /[|,#:\r\n]/g;
const UNSAFE_IN_TAG_VALUE = /[|,#\r\n]/g;

/** A tag name with every DogStatsD separator replaced by `_`. */
export function sanitizeTagName(name: string): string {
  return name.replace(UNSAFE_IN_TAG_NAME, '_');
}

/** A tag value with every DogStatsD separator except `:` replaced by `_` (`host:10.0.0.1:8080` stays intact). */
export function sanitizeTagValue(value: string): string {
  return value.replace(UNSAFE_IN_TAG_VALUE, '_');
}

/**
 * The DogStatsD tag field of one series, `|#k:v,k2:v2`, or `''` when there are no tags (Peep writes a bare `|#`).
 * A series' own labels win over `globalTags` of the same name; tags are sorted by name.
 */
export function renderTagField(
  labels: ReadonlyArray<readonly [string, string]>,
  globalTags: ReadonlyArray<readonly [string, string]>,
): string {
  const merged = new Map<string, string>();
  for (const [name, value] of globalTags) merged.set(sanitizeTagName(name), sanitizeTagValue(value));
  for (const [name, value] of labels) merged.set(sanitizeTagName(name), sanitizeTagValue(value));
  if (merged.size === 0) return '';
  const names = [...merged.keys()].sort();
  return `|#${names.map((name) => `${name}:${merged.get(name)}`).join(',')}`;
}

const UNSAFE_IN_NAME = /[:|@#,\s]/g;

/** A metric name with the characters that delimit StatsD fields (and whitespace) replaced by `_`. */
export function sanitizeMetricName(name: string): string {
  return name.replace(UNSAFE_IN_NAME, '_');
}
