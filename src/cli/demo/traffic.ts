/** Synthetic shoppers: a bounded, steady stream of requests against the demo shop, over loopback only. */
export interface Traffic {
  /** Requests sent so far. */
  readonly sent: number;
  stop(): Promise<void>;
}

let lastCheckout: unknown = { reference: 'order-first', items: [{ id: 1, quantity: 1 }] };

const MIX: ReadonlyArray<{
  weight: number;
  request: () => { method: string; path: string; body?: unknown };
}> = [
  { weight: 30, request: () => ({ method: 'GET', path: '/products' }) },
  { weight: 35, request: () => ({ method: 'GET', path: `/products/${1 + Math.floor(Math.random() * 6)}` }) },
  {
    weight: 15,
    request: () => {
      lastCheckout = {
        reference: `order-${Math.random().toString(36).slice(2, 12)}`,
        items: [{ id: 1 + Math.floor(Math.random() * 5), quantity: 1 + Math.floor(Math.random() * 3) }],
      };
      return { method: 'POST', path: '/checkout', body: lastCheckout };
    },
  },
  // A double submission: the last checkout again, refused by the unique reference (409), so the database
  // error ratio has something to show.
  { weight: 1, request: () => ({ method: 'POST', path: '/checkout', body: lastCheckout }) },
  { weight: 8, request: () => ({ method: 'GET', path: '/slow' }) },
  { weight: 4, request: () => ({ method: 'GET', path: '/fail' }) },
  { weight: 8, request: () => ({ method: 'GET', path: `/unknown/${Math.floor(Math.random() * 1e6)}` }) },
];
const TOTAL_WEIGHT = MIX.reduce((total, entry) => total + entry.weight, 0);

function pick(): { method: string; path: string; body?: unknown } {
  let roll = Math.random() * TOTAL_WEIGHT;
  for (const entry of MIX) {
    roll -= entry.weight;
    if (roll < 0) return entry.request();
  }
  return MIX[0].request();
}

/** Sends about `ratePerSecond` requests per second to `baseUrl` until stopped; at most 32 in flight. */
export function startTraffic(baseUrl: string, ratePerSecond = 20): Traffic {
  let sent = 0;
  let inFlight = 0;
  const pending = new Set<Promise<void>>();
  const timer = setInterval(() => {
    if (inFlight >= 32) return;
    const { method, path, body } = pick();
    inFlight++;
    sent++;
    const request = fetch(`${baseUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(5_000),
    })
      .then((response) => response.arrayBuffer())
      .then(
        () => {},
        () => {},
      )
      .finally(() => {
        inFlight--;
        pending.delete(request);
      });
    pending.add(request);
  }, 1000 / ratePerSecond);
  timer.unref();
  return {
    get sent() {
      return sent;
    },
    async stop() {
      clearInterval(timer);
      await Promise.allSettled([...pending]);
    },
  };
}
