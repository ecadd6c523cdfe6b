import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { execute } from '../../events/index.js';
import { trackerOf } from '../../http/index.js';
import { CATALOGUE, type ShopRepository } from './repository.js';

/** Route templates of the shop, the only values its `route` label can take (plus `<unmatched>`). */
export const SHOP_ROUTES = ['/products', '/products/:id', '/checkout', '/slow', '/fail'] as const;

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

async function handle(repository: ShopRepository, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0].replace(/\/+$/, '') || '/';
  const method = req.method ?? 'GET';
  if (method === 'GET' && path === '/products') {
    send(res, 200, await repository.listProducts());
    return;
  }
  const productMatch = /^\/products\/([^/]+)$/.exec(path);
  if (method === 'GET' && productMatch) {
    // Only an integer id reaches the database (PostgreSQL would refuse another, SQLSTATE 22P02).
    const id = /^\d{1,9}$/.test(productMatch[1]) ? Number(productMatch[1]) : undefined;
    const product = id === undefined ? undefined : await repository.findProduct(id);
    if (product === undefined) send(res, 404, { error: 'no such product' });
    else send(res, 200, product);
    return;
  }
  if (method === 'POST' && path === '/checkout') {
    const body = (await readJson(req)) as {
      reference?: unknown;
      items?: Array<{ id: number; quantity?: number }>;
    };
    // A client's own order reference makes a repeated submission (a double click) a 409, not a second order.
    const reference = body.reference ?? randomUUID();
    if (typeof reference !== 'string' || reference === '' || reference.length > 64) {
      send(res, 422, { error: 'reference must be a string of 1 to 64 characters' });
      return;
    }
    const items = Array.isArray(body.items) ? body.items : [];
    let amount = 0;
    for (const item of items) {
      const product = CATALOGUE.find((p) => p.id === item?.id);
      const quantity = item?.quantity ?? 1;
      if (product === undefined || !Number.isInteger(quantity) || quantity < 1) {
        send(res, 422, { error: 'each item needs a known product id and a positive integer quantity' });
        return;
      }
      amount += product.price * quantity;
    }
    if ((await repository.insertOrder(reference, amount)) === 'duplicate') {
      send(res, 409, { error: `order ${reference} was placed already` });
      return;
    }
    execute('shop.order', { amount }, { currency: 'EUR' });
    send(res, 201, { reference, amount, currency: 'EUR' });
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
 * Its data comes from `repository` (in memory, or PostgreSQL with `--database-url`).
 */
export function createShop(repository: ShopRepository): Server {
  return createServer((req, res) => {
    handle(repository, req, res).catch((error: unknown) => {
      trackerOf(res)?.fail(error);
      if (!res.headersSent) send(res, 500, { error: 'internal server error' });
      else res.destroy();
    });
  });
}
