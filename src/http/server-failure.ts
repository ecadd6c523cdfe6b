/**
 * Whether an error a handler threw is a failure of the server, which emits the exception event, or an answer the
 * framework gives with a status of its own (`ctx.throw(404)`, Nest's `NotFoundException`, Hono's
 * `HTTPException(401)`, a Fastify validation error), which is counted like any other response. The rule follows
 * OpenTelemetry's HTTP conventions, where a 4xx is the client's error and not the server's: an error that says its
 * status (a `status` or `statusCode` between 100 and 499, or Nest's `getStatus()`) is an answer; anything else
 * is answered with 500 by every framework here, and is a failure.
 */
export function isServerFailure(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return true;
  const { getStatus, status, statusCode } = error as {
    getStatus?: unknown;
    status?: unknown;
    statusCode?: unknown;
  };
  let answered: unknown = statusCode ?? status;
  if (typeof getStatus === 'function') {
    try {
      answered = getStatus.call(error);
    } catch {
      return true;
    }
  }
  return !(typeof answered === 'number' && answered >= 100 && answered < 500);
}
