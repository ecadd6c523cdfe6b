/** Which client library an event came from. */
export type RedisClientName = 'ioredis' | 'node-redis';

/**
 * The one connection event of `instrumentRedis`. Its metadata `change` says what happened:
 *
 * - `ready`: a connection was established and is ready for commands. Measurements `duration` (native ns, from
 *   the connect attempt to ready) and `open_delta` (`1` for node-redis, which also reports closes; `0` for
 *   ioredis, which does not). Metadata `reconnect` is `'true'` when the client had been connected before.
 * - `closed` (node-redis only): a ready connection closed; `open_delta` `-1`, metadata `reason`
 *   (`application_close` or `error`).
 * - `error`: a connect attempt failed (ioredis) or the client reported a connection error (node-redis);
 *   metadata `error_type` (`ECONNREFUSED`, a reply class, an error name) and `error`.
 *
 * One event name rather than three, so that the open-connections gauge can add up `open_delta` across both.
 */
export const REDIS_CONNECTION_EVENT = 'redis.client.connection';

/** Metadata of {@link REDIS_CONNECTION_EVENT}. `redis_client`, `change`, `reconnect`, `error_type` are always strings. */
export interface RedisConnectionMetadata {
  readonly redis_client: RedisClientName;
  readonly change: 'ready' | 'closed' | 'error';
  /** `'true'` or `'false'`; `''` when the change is not `ready`. */
  readonly reconnect: string;
  /** `''` unless the change is `error`. */
  readonly error_type: string;
  /** Why a connection closed (node-redis); `''` otherwise. */
  readonly reason: string;
  readonly server_address?: string;
  readonly server_port?: number;
  readonly error?: unknown;
}
