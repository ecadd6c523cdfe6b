/**
 * The demo's in-memory store, reporting as if it were PostgreSQL behind a pool of four connections, so that
 * `npm run demo` fills the Databases row with no server: each statement emits the events `instrumentPg` emits
 * for a `pool.query` (`db.client.operation.start`/`stop`, with `queue_time` and `query_time`, `error_type` on a
 * failure plus an `exception` event), and the simulated pool emits the `db.client.connection.*` events.
 */
import { collectPoolCounts, DB_CONNECTION_EVENTS } from '../../db/connection-pool.js';
import type { DbOperationMetadata } from '../../db/operation-events.js';
import {
  finishOperation,
  guarded,
  type OperationPhases,
  startOperation,
} from '../../db/operation-recorder.js';
import { summarizeSql } from '../../db/sql-summary.js';
import { elapsedNs, execute, monotonicNs, readClock } from '../../events/index.js';
import { pgErrorType } from '../../pg/instrument.js';
import {
  CATALOGUE,
  type Product,
  SHOP_POOL_NAME,
  SHOP_STATEMENTS,
  type ShopRepository,
} from './repository.js';

/** Connections of the simulated pool: few enough that bursts of traffic queue for one, as a real pool does. */
export const MEMORY_POOL_SIZE = 4;

const POOL_METADATA = Object.freeze({
  db_system_name: 'postgresql',
  db_client_connection_pool_name: SHOP_POOL_NAME,
});

/** PostgreSQL's error for a second order with one reference, as node-postgres raises it. */
class UniqueViolation extends Error {
  readonly code = '23505';
  constructor() {
    super('duplicate key value violates unique constraint "orders_reference_key"');
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ns = (ms: number) => Math.round(ms * 1e6);

/** The in-memory store: the catalogue, and the references of the orders placed since the demo started. */
export function createMemoryRepository(): ShopRepository {
  const references = new Set<string>();
  let used = 0;
  let open = 0;
  const waiting: Array<() => void> = [];

  // Reported before each read of the metrics, as instrumentPg reports a real pool's counts.
  const stopCollecting = collectPoolCounts(
    () => ({ total: open, idle: open - used, waiting: waiting.length }),
    () => POOL_METADATA,
  );

  const checkout = async () => {
    const requested = readClock();
    if (used < MEMORY_POOL_SIZE) {
      used++;
      open = Math.max(open, used); // connections open lazily and stay open, as pg-pool's idle ones do
    } else {
      const handedOver = new Promise<void>((resolve) => waiting.push(resolve));
      await handedOver; // release() passes its connection on without freeing it
    }
    const now = readClock();
    guarded(() =>
      execute(
        DB_CONNECTION_EVENTS.wait,
        { duration: elapsedNs(requested, now), monotonic_time: monotonicNs(now) },
        { ...POOL_METADATA, error_type: '' },
      ),
    );
  };

  const release = () => {
    const next = waiting.shift();
    if (next === undefined) used--;
    else next();
  };

  // One metadata object per statement, as instrumentPg builds them, with the operation and table of the SQL.
  const metadataOf = new Map<string, DbOperationMetadata>();
  for (const sql of Object.values(SHOP_STATEMENTS)) {
    const { operation, table } = summarizeSql(sql);
    metadataOf.set(sql, {
      db_system_name: 'postgresql',
      db_operation_name: operation,
      db_collection_name: table,
      error_type: '',
      db_namespace: 'shop',
      db_client_connection_pool_name: SHOP_POOL_NAME,
    } as DbOperationMetadata);
  }

  /** Runs `work` as the statement `sql` would run on a pooled connection: checkout, execution time, events. */
  const run = async <T>(sql: string, work: () => T): Promise<T> => {
    const metadata = metadataOf.get(sql)!;
    const start = startOperation(metadata);
    await checkout();
    const sent = readClock();
    let result: T | undefined;
    let error: unknown;
    try {
      await sleep(1 + Math.random() * 8);
      result = work();
    } catch (failure) {
      error = failure;
    } finally {
      release();
    }
    // decode_time and idle_time are Ecto's, kept for the article's repo summaries; a real pg reports neither.
    const phases: OperationPhases & { decode_time: number; idle_time: number } = {
      queue_time: elapsedNs(start, sent),
      query_time: elapsedNs(sent, readClock()),
      decode_time: ns(Math.random() * 0.5),
      idle_time: ns(Math.random() * 50),
    };
    finishOperation(start, metadata, error, error === undefined ? '' : pgErrorType(error), phases);
    if (error !== undefined) throw error;
    return result as T;
  };

  return {
    description: 'memory',
    listProducts: () => run(SHOP_STATEMENTS.listProducts, () => CATALOGUE),
    findProduct: (id) => run(SHOP_STATEMENTS.findProduct, () => CATALOGUE.find((p: Product) => p.id === id)),
    async insertOrder(reference) {
      try {
        await run(SHOP_STATEMENTS.insertOrder, () => {
          if (references.has(reference)) throw new UniqueViolation();
          references.add(reference);
        });
        return 'created';
      } catch (error) {
        if (error instanceof UniqueViolation) return 'duplicate';
        throw error;
      }
    },
    async close() {
      stopCollecting();
    },
  };
}
