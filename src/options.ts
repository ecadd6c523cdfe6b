import { TelemeterTypeError } from './errors.js';

/**
 * Start-up check shared by every function that takes an options object: it must be a plain object, and every key
 * must be one the function reads, so a misspelt option (`maxSerie`, `globaltags`) fails loudly instead of being
 * ignored. The error names the closest valid key.
 *
 * @param where how the message names the caller, e.g. `'telemeter/http: httpMetrics'`.
 * @param path where the object sits in the options, with a trailing dot (`'reporterOptions.'`); `''` for the top.
 * @throws TelemeterTypeError `ERR_TELEMETER_INVALID_OPTION` when `options` is not an object,
 *   `ERR_TELEMETER_UNKNOWN_OPTION` naming the unknown key and the closest valid one.
 */
export function checkOptionKeys(
  where: string,
  options: unknown,
  known: ReadonlySet<string> | readonly string[],
  path = '',
): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TelemeterTypeError(
      'ERR_TELEMETER_INVALID_OPTION',
      `${where}: ${path === '' ? 'options' : `option ${path.slice(0, -1)}`} must be an object`,
    );
  }
  const valid = [...known];
  for (const key of Object.keys(options)) {
    if (!valid.includes(key)) throw unknownOption(where, `${path}${key}`, valid);
  }
}

/** The error for an unknown option (`key`, or `path.key` for a nested one), suggesting the closest of `valid`. */
export function unknownOption(where: string, option: string, valid: readonly string[]): TelemeterTypeError {
  const dot = option.lastIndexOf('.');
  const closest = closestName(option.slice(dot + 1), valid);
  const hint = closest === undefined ? '' : `did you mean ${option.slice(0, dot + 1)}${closest}? `;
  return new TelemeterTypeError(
    'ERR_TELEMETER_UNKNOWN_OPTION',
    `${where}: option ${option} is unknown (${hint}valid: ${valid.join(', ')})`,
  );
}

/**
 * The name in `candidates` that `name` most likely misspells, or undefined when none is close: the smallest
 * edit distance (insertions, deletions, substitutions and swaps of neighbours, ignoring letter case), if it is at
 * most a third of the name's length (at least 2); else a candidate that the name begins (`maxAge` for
 * `maxAgeSeconds`).
 */
export function closestName(name: string, candidates: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  let best: string | undefined =
    lower.length >= 3 ? candidates.find((candidate) => candidate.toLowerCase().startsWith(lower)) : undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const candidate of candidates) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Optimal-string-alignment distance: Levenshtein plus transposition of two neighbouring characters. */
function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array(rows * cols).fill(0);
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(
        d[(i - 1) * cols + j] + 1,
        d[i * cols + j - 1] + 1,
        d[(i - 1) * cols + j - 1] + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        value = Math.min(value, d[(i - 2) * cols + j - 2] + 1);
      }
      d[i * cols + j] = value;
    }
  }
  return d[rows * cols - 1];
}
