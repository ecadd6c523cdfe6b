// Koa 3 and @koa/router with telemeter: the middleware measures every request under its route template, and
// the metrics endpoint shares the application's port (metricsHandler). `npm install telemeter koa @koa/router`:
//
//   node koa.js                           # http://localhost:4000/users/42, metrics at /metrics
//   METRICS_TOKEN=change-me-please node koa.js
import Router from '@koa/router';
import Koa from 'koa';
import { Telemeter } from 'telemeter';
import { httpMetrics, koaMiddleware } from 'telemeter/http';
import { instrumentRuntime, runtimeMetrics } from 'telemeter/runtime';
import { metricsHandler } from 'telemeter/server';

const port = Number(process.env.PORT ?? 4000);
const host = process.env.HOST ?? '::';
const token = process.env.METRICS_TOKEN;

const telemeter = new Telemeter({ metrics: [...httpMetrics(), ...runtimeMetrics()] });
const runtime = instrumentRuntime();
// On a public port, protect the metrics with a token.
const scrape = metricsHandler(telemeter, { auth: token ? { bearer: token } : undefined });

const app = new Koa();
const router = new Router();
router.get('/metrics', (ctx) => {
  ctx.respond = false; // the handler writes the response itself
  scrape(ctx.req, ctx.res);
});
router.get('/healthz', (ctx) => {
  ctx.body = 'ok';
});
router.get('/users/:id', (ctx) => {
  ctx.body = { id: ctx.params.id };
});
router.get('/boom', () => {
  throw new Error('boom');
});
app.use(koaMiddleware({ ignore: ['/metrics', '/healthz'] })); // before the router
app.use(router.routes());

const server = app.listen(port, host, () => {
  const shown = host === '::' || host === '0.0.0.0' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  console.log(`app: http://${shown}:${server.address().port}`);
  console.log(`metrics: http://${shown}:${server.address().port}/metrics`);
});

function shutdown() {
  server.close(() => console.log('stopped'));
  runtime.stop();
  telemeter.close();
}
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
