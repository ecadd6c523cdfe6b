import type { IncomingMessage, ServerResponse } from 'node:http';
import { ServerCore, trackerOf } from './server-core.js';
import type { ServerInstrumentationOptions } from './server-options.js';

// Structural types for the parts of Fastify 4 and 5 this plugin uses, so the package never imports fastify.
interface FastifyRequestLike {
  readonly raw: IncomingMessage;
  readonly routeOptions: { readonly url?: string };
}
interface FastifyReplyLike {
  readonly raw: ServerResponse;
}
type HookDone = (error?: Error) => void;
interface FastifyInstanceLike {
  addHook(name: string, hook: (...args: any[]) => void): unknown;
}

/** Options of {@link fastifyPlugin}; Fastify's own `register` options (`prefix`, ...) are accepted too. */
export type FastifyPluginOptions = ServerInstrumentationOptions;

const FASTIFY_REGISTER_KEYS = ['prefix', 'logLevel', 'logSerializers'];

/**
 * A Fastify 4 or 5 plugin that measures every request of the instance it is registered on, routes of child
 * plugins included (it skips encapsulation like `fastify-plugin` does):
 *
 * ```ts
 * import Fastify from 'fastify';
 * import { Telemeter } from 'telemeter';
 * import { fastifyPlugin, httpMetrics } from 'telemeter/http';
 *
 * const telemeter = new Telemeter({ metrics: httpMetrics() });
 * const app = Fastify();
 * await app.register(fastifyPlugin, { ignore: ['/healthz'] });
 * app.get('/users/:id', async (request) => ({ id: (request.params as { id: string }).id }));
 *
 * await fetch(`${await app.listen({ port: 0 })}/users/42`);
 * console.log(telemeter.scrape().match(/^http_server_requests_total\{.*$/m)?.[0]);
 * //=> http_server_requests_total{method="GET",route="/users/:id",status="200"} 1
 * await app.close();
 * ```
 *
 * The route label is `request.routeOptions.url` (`/users/:id`, with any prefix), known from `onRequest` on,
 * so aborted requests keep it; requests that no route matched (answered by the default or a
 * `setNotFoundHandler` handler) are `<unmatched>`. An error passed to Fastify's `onError` hook (thrown, or sent
 * with `reply.send(error)`) emits the exception event.
 *
 * @throws TelemeterTypeError (through `register`) for an option, naming it: `ERR_TELEMETER_UNKNOWN_OPTION`
 * (with the closest valid key) or `ERR_TELEMETER_INVALID_OPTION`.
 */
export function fastifyPlugin(
  fastify: FastifyInstanceLike,
  options: FastifyPluginOptions | undefined,
  done: HookDone,
): void {
  let core: ServerCore;
  try {
    core = new ServerCore('fastifyPlugin', options, FASTIFY_REGISTER_KEYS);
  } catch (error) {
    done(error as Error);
    return;
  }
  fastify.addHook('onRequest', (request: FastifyRequestLike, reply: FastifyReplyLike, next: HookDone) => {
    const tracker = core.track(request.raw, reply.raw);
    // Fastify routes before the onRequest hooks run, so the template is known from the start.
    if (tracker !== undefined) tracker.setRoute(request.routeOptions.url);
    next();
  });
  fastify.addHook(
    'onError',
    (_request: FastifyRequestLike, reply: FastifyReplyLike, error: unknown, next: HookDone) => {
      trackerOf(reply.raw)?.fail(error);
      next();
    },
  );
  done();
}

// What fastify-plugin sets: hooks apply to the whole instance instead of a child context, under a readable name.
Object.assign(fastifyPlugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'telemeter',
});
