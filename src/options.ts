/**
 * Start-up check shared by every function that takes an options object: it must be an object, and every key
 * must be one the function reads, so a misspelt option fails loudly instead of being ignored.
 *
 * @param where how the message names the caller, e.g. `'telemeter/http: httpMetrics'`.
 * @throws TypeError naming the caller and the unknown option.
 */
export function checkOptionKeys(where: string, options: unknown, known: ReadonlySet<string>): void {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`${where}: options must be an object`);
  }
  for (const key of Object.keys(options)) {
    if (!known.has(key)) {
      throw new TypeError(`${where}: option ${key} is unknown; valid options are ${[...known].join(', ')}`);
    }
  }
}
