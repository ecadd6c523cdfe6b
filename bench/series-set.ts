/**
 * N distinct 3-tag label sets for the export and memory sections: `route` (N / 100 values), `method` (10) and
 * `status` (10). Values are built once and shared, so a library is charged for what it keeps per series, not
 * for the strings the application already holds.
 */

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'TRACE', 'CONNECT', 'PURGE'];
const STATUSES = ['200', '201', '204', '301', '304', '400', '401', '404', '500', '503'];

export const SERIES_TAGS = ['route', 'method', 'status'] as const;

export interface SeriesSet {
  readonly size: number;
  readonly routes: readonly string[];
  /** Calls `visit` with a fresh label object for every series, in a fixed order. */
  forEach(visit: (labels: { route: string; method: string; status: string }, index: number) => void): void;
}

export function seriesSet(size: number): SeriesSet {
  if (size % 100 !== 0) throw new Error(`bench: series counts must be multiples of 100, got ${size}`);
  const routes = Array.from({ length: size / 100 }, (_, i) => `/api/v1/items/${i}/details`);
  return {
    size,
    routes,
    forEach(visit) {
      let index = 0;
      for (const route of routes) {
        for (const method of METHODS) {
          for (const status of STATUSES) visit({ route, method, status }, index++);
        }
      }
    },
  };
}
