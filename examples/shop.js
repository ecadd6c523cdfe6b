// The demo shop as one plain file: a node:http JSON API instrumented by telemeter, with the runtime poller and
// the private metrics server. Copy it next to telemetry.js, `npm install telemeter`, then:
//
//   node shop.js                                   # API on :4000, metrics on :9091
//   PORT=4001 METRICS_PORT=9092 node shop.js       # a second instance
//   METRICS_TOKEN=change-me-please node shop.js    # scrapes must send "Authorization: Bearer change-me-please"
//
// Routes: GET /products, GET /products/:id, POST /checkout {"items":[{"id":1,"quantity":2}]}, GET /slow,
// GET /fail (a deliberate 500). Anything else is a 404, counted under route="<unmatched>".
import { createServer } from 'node:http';
import { execute, Telemeter } from 'telemeter';
import { instrumentHttpServer, trackerOf } from 'telemeter/http';
import { instrumentRuntime } from 'telemeter/runtime';
import { serveMetrics } from 'telemeter/server';
import { metrics } from './telemetry.js';

const port = Number(process.env.PORT ?? 4000);
const metricsPort = Number(process.env.METRICS_PORT ?? 9091);
// '::' accepts IPv4 and IPv6 (Fly.io's private network is IPv6); HOST=127.0.0.1 keeps everything local.
const host = process.env.HOST ?? '::';
const token = process.env.METRICS_TOKEN;

const PRODUCTS = [
  { id: 1, name: 'Espresso beans, 1 kg', price: 24.5 },
  { id: 2, name: 'Hand grinder', price: 89 },
  { id: 3, name: 'Milk jug', price: 12.9 },
  { id: 4, name: 'Scale', price: 39.99 },
  { id: 5, name: 'Tamper', price: 19 },
];

// A pretend database call that reports its timings the way Ecto does, in native units (nanoseconds).
async function query(source, result) {
  const started = process.hrtime.bigint();
  await new Promise((resolve) => setTimeout(resolve, 1 + Math.random() * 8));
  const total = Number(process.hrtime.bigint() - started);
  execute(
    'shop.repo.query',
    {
      total_time: total,
      decode_time: Math.round(total * 0.05),
      query_time: Math.round(total * 0.85),
      queue_time: Math.round(total * 0.1),
      idle_time: Math.round(Math.random() * 50e6),
    },
    { source },
  );
  return result;
}

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req) {
  let raw = '';
  for await (const chunk of req) {
    raw += chunk;
    if (raw.length > 64 * 1024) throw new Error('request body too large');
  }
  return raw === '' ? {} : JSON.parse(raw);
}

async function handle(req, res) {
  const path = new URL(req.url ?? '/', 'http://shop').pathname.replace(/\/+$/, '') || '/';
  if (req.method === 'GET' && path === '/products') return send(res, 200, await query('products', PRODUCTS));
  const id = /^\/products\/([^/]+)$/.exec(path)?.[1];
  if (req.method === 'GET' && id !== undefined) {
    const product = await query(
      'products',
      PRODUCTS.find((p) => String(p.id) === id),
    );
    return product === undefined ? send(res, 404, { error: 'no such product' }) : send(res, 200, product);
  }
  if (req.method === 'POST' && path === '/checkout') {
    const { items = [] } = await readJson(req);
    let amount = 0;
    for (const item of items) {
      const product = PRODUCTS.find((p) => p.id === item.id);
      const quantity = item.quantity ?? 1;
      if (product === undefined || !Number.isInteger(quantity) || quantity < 1) {
        return send(res, 422, { error: `cannot order ${JSON.stringify(item)}` });
      }
      amount += product.price * quantity;
    }
    await query('orders', undefined);
    execute('shop.order', { amount }, { currency: 'EUR' });
    return send(res, 201, { amount, currency: 'EUR' });
  }
  if (req.method === 'GET' && path === '/slow') {
    await new Promise((resolve) => setTimeout(resolve, 300 + Math.random() * 500));
    return send(res, 200, { ok: true });
  }
  if (req.method === 'GET' && path === '/fail') throw new Error('the payment provider is down (on purpose)');
  send(res, 404, { error: 'not found' });
}

const telemeter = new Telemeter({ metrics, globalTags: { service: 'shop' } });
const runtime = instrumentRuntime();

const shop = createServer((req, res) => {
  handle(req, res).catch((error) => {
    // node:http has no framework to catch errors: report them, so http.server.request.exception fires.
    trackerOf(res)?.fail(error);
    if (!res.headersSent) send(res, 500, { error: 'internal server error' });
    else res.destroy();
  });
});
// node:http has no router: the templates give each request a bounded `route` label.
instrumentHttpServer(shop, { route: ['/products', '/products/:id', '/checkout', '/slow', '/fail'] });
await new Promise((resolve) => shop.listen(port, host, resolve));
const metricsServer = await serveMetrics(telemeter, {
  port: metricsPort,
  host,
  auth: token ? { bearer: token } : undefined,
});

const shown = host === '::' || host === '0.0.0.0' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
console.log(`app: http://${shown}:${shop.address().port}/products`);
console.log(`metrics: ${metricsServer.url}`);

async function shutdown() {
  shop.closeAllConnections();
  await Promise.all([new Promise((resolve) => shop.close(resolve)), metricsServer.close()]);
  runtime.stop();
  telemeter.close();
  console.log('stopped');
}
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
