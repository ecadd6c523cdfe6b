/** Sample lines of an exposition as `name{labels}` → value, for exact assertions on scrape output. */
export function samples(body: string): Map<string, number> {
  const result = new Map<string, number>();
  for (const line of body.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    const raw = line.slice(space + 1);
    result.set(line.slice(0, space), raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw));
  }
  return result;
}

/** Value of one sample, failing loudly when the series is absent. */
export function sample(body: string, series: string): number {
  const value = samples(body).get(series);
  if (value === undefined) throw new Error(`series ${series} not found in:\n${body}`);
  return value;
}
