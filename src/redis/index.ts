export {
  REDIS_CONNECTION_EVENT,
  type RedisClientName,
  type RedisConnectionMetadata,
} from './connection-events.js';
export { redisErrorType } from './error-type.js';
export {
  instrumentRedis,
  type RedisInstrumentation,
  type RedisInstrumentationOptions,
  type RedisOperationMetadata,
} from './instrument.js';
export { REDIS_BATCH_SIZE_BUCKETS, redisMetrics } from './metrics.js';
