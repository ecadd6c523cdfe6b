/** A known, bounded set of requests to the demo shop, and the series it must produce. */

export interface PlannedRequest {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly body?: unknown;
  /** The `route` label the request must be counted under. */
  readonly route: string;
  /** The status the shop must answer (and the `status` label). */
  readonly status: number;
  /** Sent only once every other request of the plan has been answered (a repeat of one of them). */
  readonly last?: boolean;
}

/** Price of product 1 in the shop's catalogue; a checkout of two costs twice that. */
export const PRODUCT_1_PRICE = 24.5;

/**
 * `scale` copies of: GET /products ×20 (one with a query string), GET /products/1…5 and a missing id,
 * POST /checkout ×3, one more with its own reference and its repeat (409, sent last: a unique violation in
 * the shop's database), GET /slow, GET /fail ×2 (500), and two unknown paths (404, `<unmatched>`).
 */
export function shopTraffic(scale = 1): PlannedRequest[] {
  const run = Math.random().toString(36).slice(2, 10);
  const plan: PlannedRequest[] = [];
  for (let copy = 0; copy < scale; copy++) {
    for (let i = 0; i < 19; i++)
      plan.push({ method: 'GET', path: '/products', route: '/products', status: 200 });
    plan.push({ method: 'GET', path: '/products?page=2', route: '/products', status: 200 });
    for (let id = 1; id <= 5; id++) {
      plan.push({ method: 'GET', path: `/products/${id}`, route: '/products/:id', status: 200 });
    }
    plan.push({ method: 'GET', path: '/products/999', route: '/products/:id', status: 404 });
    for (let i = 0; i < 3; i++) {
      plan.push({
        method: 'POST',
        path: '/checkout',
        body: { items: [{ id: 1, quantity: 2 }] },
        route: '/checkout',
        status: 201,
      });
    }
    const referenced = { reference: `e2e-${run}-${copy}`, items: [{ id: 1, quantity: 2 }] };
    plan.push({ method: 'POST', path: '/checkout', body: referenced, route: '/checkout', status: 201 });
    plan.push({
      method: 'POST',
      path: '/checkout',
      body: referenced,
      route: '/checkout',
      status: 409,
      last: true,
    });
    plan.push({ method: 'GET', path: '/slow', route: '/slow', status: 200 });
    plan.push({ method: 'GET', path: '/fail', route: '/fail', status: 500 });
    plan.push({ method: 'GET', path: '/fail', route: '/fail', status: 500 });
    plan.push({ method: 'GET', path: `/no/such/page/${copy}`, route: '<unmatched>', status: 404 });
    plan.push({ method: 'GET', path: '/favicon.ico', route: '<unmatched>', status: 404 });
  }
  return plan;
}

/** Sends every request of `plan` to `baseUrl`, at most `concurrency` at a time; throws on an unexpected status. */
export async function sendTraffic(
  baseUrl: string,
  plan: readonly PlannedRequest[],
  concurrency = 8,
): Promise<void> {
  const wrong: string[] = [];
  const send = async (requests: readonly PlannedRequest[]) => {
    let next = 0;
    const worker = async () => {
      while (next < requests.length) {
        await sendOne(requests[next++]);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, requests.length) }, worker));
  };
  const sendOne = async (request: PlannedRequest) => {
    const response = await fetch(`${baseUrl}${request.path}`, {
      method: request.method,
      headers: request.body === undefined ? {} : { 'content-type': 'application/json' },
      body: request.body === undefined ? undefined : JSON.stringify(request.body),
      signal: AbortSignal.timeout(10_000),
    });
    await response.arrayBuffer();
    if (response.status !== request.status) {
      wrong.push(`${request.method} ${request.path}: ${response.status}, expected ${request.status}`);
    }
  };
  await send(plan.filter((request) => request.last !== true));
  await send(plan.filter((request) => request.last === true));
  if (wrong.length > 0) throw new Error(`the shop answered unexpectedly:\n${wrong.join('\n')}`);
}

/** `method route status` → how many requests of `plan` must be counted under those labels. */
export function countsByLabels(plan: readonly PlannedRequest[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { method, route, status } of plan) {
    const key = `${method} ${route} ${status}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/** `route` → how many requests of `plan` went to it. */
export function countsByRoute(plan: readonly PlannedRequest[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { route } of plan) counts[route] = (counts[route] ?? 0) + 1;
  return counts;
}

/** Adds `b` into a copy of `a`. */
export function addCounts(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const sum = { ...a };
  for (const [key, value] of Object.entries(b)) sum[key] = (sum[key] ?? 0) + value;
  return sum;
}

/** Value of the orders checked out by `plan`, in EUR. */
export function orderAmount(plan: readonly PlannedRequest[]): number {
  return plan.filter((r) => r.route === '/checkout' && r.status === 201).length * 2 * PRODUCT_1_PRICE;
}

/** A Prometheus instant-query vector as `label values joined by a space` → value. */
export function vectorByLabels(result: any[], labels: readonly string[]): Record<string, number> {
  const map: Record<string, number> = {};
  for (const sample of result) {
    const key = labels.map((l) => sample.metric[l] ?? '').join(' ');
    map[key] = Number(sample.value[1]);
  }
  return map;
}

/**
 * `db_operation_name db_collection_name error_type` → how many statements the shop runs for `plan`: a SELECT
 * of products per product request (a missing integer id too), an INSERT of orders per checkout, the repeated
 * reference failing with SQLSTATE class 23.
 */
export function dbOperationCounts(plan: readonly PlannedRequest[]): Record<string, number> {
  const counts: Record<string, number> = {};
  const add = (key: string) => {
    counts[key] = (counts[key] ?? 0) + 1;
  };
  for (const { route, status } of plan) {
    if (route === '/products' || route === '/products/:id') add('SELECT products ');
    else if (route === '/checkout' && status === 201) add('INSERT orders ');
    else if (route === '/checkout' && status === 409) add('INSERT orders 23');
  }
  return counts;
}
