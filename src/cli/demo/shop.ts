import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { execute } from '../../events/index.js';
import { trackerOf } from '../../http/index.js';

/** Route templates of the shop, the only values its `route` label can take (plus `<unmatched>`). */
export const SHOP_ROUTES = ['/products', '/products/:id', '/checkout', '/slow', '/fail'] as const;

interface Product {
  readonly id: number;
  readonly name: string;
  readonly price: number;
}

const PRODUCTS: readonly Product[] = [
  { id: 1, name: 'Espresso beans, 1 kg', price: 24.5 },
  { id: 2, name: 'Hand grinder', price: 89 },
  { id: 3, name: 'Milk jug', price: 12.9 },
  { id: 4, name: 'Scale', price: 39.99 },
  { id: 5, name: 'Tamper', price: 19 },
];

/** Simulated database latency in milliseconds, to give the repo summaries something to summarize. */
async function query<T>(source: string, result: T): Promise<T> {
  const queue = Math.random() * 2;
  const run = 1 + Math.random() * 8;
  const decode = Math.random() * 0.5;
  await new Promise((resolve) => setTimeout(resolve, queue + run + decode));
  const ns = (ms: number) => Math.round(ms * 1e6);
  execute(
    'shop.repo.query',
    {
      total_time: ns(queue + run + decode),
      decode_time: ns(decode),
      query_time: ns(run),
      queue_time: ns(queue),
      idle_time: ns(Math.random() * 50),
    },
    { source },
  );
  return result;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  let raw = '';
  for await (const chunk of req) {
    raw += chunk;
    if (raw.length > 64 * 1024) throw new Error('request body too large');
  }
  return raw === '' ? {} : JSON.parse(raw);
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0].replace(/\/+$/, '') || '/';
  const method = req.method ?? 'GET';
  if (method === 'GET' && path === '/products') {
    send(res, 200, await query('products', PRODUCTS));
    return;
  }
  const productMatch = /^\/products\/([^/]+)$/.exec(path);
  if (method === 'GET' && productMatch) {
    const product = await query(
      'products',
      PRODUCTS.find((p) => String(p.id) === productMatch[1]),
    );
    if (product === undefined) send(res, 404, { error: 'no such product' });
    else send(res, 200, product);
    return;
  }
  if (method === 'POST' && path === '/checkout') {
    const body = (await readJson(req)) as { items?: Array<{ id: number; quantity?: number }> };
    const items = Array.isArray(body.items) ? body.items : [];
    let amount = 0;
    for (const item of items) {
      const product = PRODUCTS.find((p) => p.id === item?.id);
      const quantity = item?.quantity ?? 1;
      if (product === undefined || !Number.isInteger(quantity) || quantity < 1) {
        send(res, 422, { error: 'each item needs a known product id and a positive integer quantity' });
        return;
      }
      amount += product.price * quantity;
    }
    await query('orders', undefined);
    execute('shop.order', { amount }, { currency: 'EUR' });
    send(res, 201, { amount, currency: 'EUR' });
    return;
  }
  if (method === 'GET' && path === '/slow') {
    await new Promise((resolve) => setTimeout(resolve, 300 + Math.random() * 500));
    send(res, 200, { ok: true });
    return;
  }
  if (method === 'GET' && path === '/fail') {
    throw new Error('the payment provider is down (a deliberate failure)');
  }
  send(res, 404, { error: 'not found' });
}

/**
 * The demo's example shop: a plain `node:http` JSON API. Handlers that throw answer 500 and report the error
 * to the request's tracker, so `http.server.request.exception` fires as it would under a framework adapter.
 */
export function createShop(): Server {
  return createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      trackerOf(res)?.fail(error);
      if (!res.headersSent) send(res, 500, { error: 'internal server error' });
      else res.destroy();
    });
  });
}
