/**
 * A Redis error reply starts with an upper-case word that names its class (`WRONGTYPE Operation against a key
 * holding the wrong kind of value`, `ERR unknown command`, `NOSCRIPT`, `EXECABORT`); both clients keep that text
 * as the error's message. Anything else (a refused socket, a closed client) is classified by its `code`
 * (`ECONNREFUSED`), its `name` (`ClientClosedError`) or its class (`SocketClosedUnexpectedlyError`).
 */
const REPLY_PREFIX = /^([A-Z][A-Z0-9_]{1,31})(?: |$)/;
/** Codes and names stay label-safe and short; a longer or stranger value collapses to `Error`. */
const SAFE_CLASS = /^[A-Za-z][\w.-]{0,63}$/;

/** The `error_type` label of a failed Redis operation or connection: never the message beyond its class word. */
export function redisErrorType(error: unknown): string {
  if (error === null || typeof error !== 'object') return error === undefined ? '' : 'Error';
  const { message, code, name } = error as { message?: unknown; code?: unknown; name?: unknown };
  if (typeof message === 'string') {
    const reply = REPLY_PREFIX.exec(message);
    if (reply !== null) return reply[1] as string;
  }
  if (typeof code === 'string' && SAFE_CLASS.test(code)) return code;
  // node-redis's errors are subclasses that keep the name `Error` (SocketClosedUnexpectedlyError).
  if (typeof name === 'string' && name !== 'Error' && SAFE_CLASS.test(name)) return name;
  const constructorName = (error as { constructor?: { name?: unknown } }).constructor?.name;
  if (typeof constructorName === 'string' && SAFE_CLASS.test(constructorName)) return constructorName;
  return 'Error';
}

/**
 * The first failed reply in a batch's result, if any: ioredis resolves a MULTI with `[error, value]` pairs,
 * node-redis with the raw replies, where a failed command is an `Error` instance.
 */
export function firstFailedReply(result: unknown): unknown {
  if (!Array.isArray(result)) return undefined;
  for (const entry of result) {
    if (entry instanceof Error) return entry;
    if (Array.isArray(entry) && entry[0] instanceof Error) return entry[0];
  }
  return undefined;
}
