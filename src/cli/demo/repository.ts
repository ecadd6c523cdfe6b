/**
 * The shop's data access, one interface for its two stores: the in-memory one (the default, no server needed)
 * and a real PostgreSQL (`--database-url`). Both run the same statements, so both report the same
 * `db.client.operation.*` events: `SELECT products`, `INSERT orders`.
 */
import { DB_OPERATION_EVENTS } from '../../db/operation-events.js';
import { attach, detach, execute } from '../../events/index.js';

/** A product of the catalogue. */
export interface Product {
  readonly id: number;
  readonly name: string;
  readonly price: number;
}

/** The catalogue: the in-memory store serves it, the PostgreSQL store seeds its `products` table with it. */
export const CATALOGUE: readonly Product[] = Object.freeze([
  { id: 1, name: 'Espresso beans, 1 kg', price: 24.5 },
  { id: 2, name: 'Hand grinder', price: 89 },
  { id: 3, name: 'Milk jug', price: 12.9 },
  { id: 4, name: 'Scale', price: 39.99 },
  { id: 5, name: 'Tamper', price: 19 },
]);

/** The statements of the shop, the same text for both stores (only PostgreSQL executes them). */
export const SHOP_STATEMENTS = Object.freeze({
  listProducts: 'SELECT id, name, price FROM products ORDER BY id',
  findProduct: 'SELECT id, name, price FROM products WHERE id = $1',
  insertOrder: 'INSERT INTO orders (reference, amount) VALUES ($1, $2)',
});

/** `db_client_connection_pool_name` of the shop's pool, whichever store is behind it. */
export const SHOP_POOL_NAME = 'shop';

/** What the shop's handlers ask of a store. */
export interface ShopRepository {
  /** `postgresql://host:port/database` for a real database, `memory` for the in-memory store. */
  readonly description: string;
  listProducts(): Promise<readonly Product[]>;
  findProduct(id: number): Promise<Product | undefined>;
  /** `duplicate` when an order with this reference exists already (a unique violation, SQLSTATE 23505). */
  insertOrder(reference: string, amount: number): Promise<'created' | 'duplicate'>;
  close(): Promise<void>;
}

/** True for PostgreSQL's unique violation, which the in-memory store raises the same way. */
export function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '23505';
}

let repoEventHandlers = 0;

/**
 * Re-emits each stop event of the shop's pool as the article's Ecto-style `shop.repo.query` event
 * (`total_time` = the operation's `duration`, with its `queue_time` and `query_time`; `decode_time` and
 * `idle_time` only when the store reports them, which pg does not), metadata `source` = the table.
 * Returns the function that detaches it.
 */
export function emitRepoQueryEvents(): () => void {
  const id = `telemeter-demo-repo-query-${++repoEventHandlers}`;
  attach(id, DB_OPERATION_EVENTS.stop, (_event, measurements, metadata) => {
    if (metadata.db_client_connection_pool_name !== SHOP_POOL_NAME) return;
    const { duration, queue_time, query_time, decode_time, idle_time } = measurements;
    execute(
      'shop.repo.query',
      {
        total_time: duration,
        queue_time,
        query_time,
        ...(decode_time === undefined ? {} : { decode_time }),
        ...(idle_time === undefined ? {} : { idle_time }),
      },
      { source: metadata.db_collection_name },
    );
  });
  return () => detach(id);
}
