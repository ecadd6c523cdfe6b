/**
 * The demo's PostgreSQL store (`--database-url`): a real pg Pool measured by `instrumentPg`, its tables in a
 * schema of their own (`telemeter_demo` unless told otherwise), created when absent. pg is an optional peer
 * dependency, imported here only when the flag is given.
 */
import type { Pool, PoolConfig } from 'pg';
import { TelemeterError } from '../../errors.js';
import { instrumentPg } from '../../pg/instrument.js';
import {
  CATALOGUE,
  isUniqueViolation,
  type Product,
  SHOP_POOL_NAME,
  SHOP_STATEMENTS,
  type ShopRepository,
} from './repository.js';

/** The schema the demo's tables go in by default. */
export const DEFAULT_DEMO_SCHEMA = 'telemeter_demo';

/** Schema names taken as they are (no quoting games): lower-case letters, digits and `_`. */
export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

type PgModule = { Pool: new (config: PoolConfig) => Pool };

async function importPg(): Promise<PgModule> {
  try {
    const module = (await import('pg')) as unknown as PgModule & { default?: PgModule };
    return module.default ?? module;
  } catch (error) {
    throw new TelemeterError(
      'ERR_TELEMETER_MISSING_DEPENDENCY',
      'telemeter demo: --database-url needs the pg package (npm install pg), which is not installed',
      { cause: error },
    );
  }
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(an unparsable URL)';
  }
}

function rowToProduct(row: { id: number; name: string; price: string | number }): Product {
  return { id: Number(row.id), name: row.name, price: Number(row.price) };
}

/**
 * Connects to `url`, creates the schema and its `products` and `orders` tables when absent, seeds the
 * catalogue, then instruments the pool (the set-up statements are not counted).
 *
 * @throws TelemeterError `ERR_TELEMETER_MISSING_DEPENDENCY` when pg is not installed;
 *   `ERR_TELEMETER_INVALID_OPTION` when the database cannot be reached or set up (`cause`: pg's error).
 */
export async function openPostgresRepository(
  url: string,
  schema = DEFAULT_DEMO_SCHEMA,
): Promise<ShopRepository> {
  const { Pool } = await importPg();
  const pool = new Pool({ connectionString: url, max: 4, options: `-c search_path=${schema}` });
  // An idle connection that breaks (the server restarts) must not take the demo down; the next query reports it.
  pool.on('error', () => {});
  try {
    await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await pool.query(
      'CREATE TABLE IF NOT EXISTS products (id integer PRIMARY KEY, name text NOT NULL, price numeric(10, 2) NOT NULL)',
    );
    await pool.query(
      'CREATE TABLE IF NOT EXISTS orders (id bigserial PRIMARY KEY, reference text NOT NULL UNIQUE, amount numeric(12, 2) NOT NULL, created_at timestamptz NOT NULL DEFAULT now())',
    );
    for (const { id, name, price } of CATALOGUE) {
      await pool.query(
        'INSERT INTO products (id, name, price) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING',
        [id, name, price],
      );
    }
  } catch (error) {
    await pool.end().catch(() => {});
    throw new TelemeterError(
      'ERR_TELEMETER_INVALID_OPTION',
      `telemeter demo: cannot use --database-url ${redactUrl(url)}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const instrumentation = instrumentPg(pool, { poolName: SHOP_POOL_NAME });
  const parsed = new URL(url);
  return {
    description: `postgresql://${parsed.host}${parsed.pathname} (schema ${schema})`,
    async listProducts() {
      return (await pool.query(SHOP_STATEMENTS.listProducts)).rows.map(rowToProduct);
    },
    async findProduct(id) {
      const { rows } = await pool.query(SHOP_STATEMENTS.findProduct, [id]);
      return rows.length === 0 ? undefined : rowToProduct(rows[0]);
    },
    async insertOrder(reference, amount) {
      try {
        await pool.query(SHOP_STATEMENTS.insertOrder, [reference, amount]);
        return 'created';
      } catch (error) {
        if (isUniqueViolation(error)) return 'duplicate';
        throw error;
      }
    },
    async close() {
      instrumentation.stop();
      await pool.end();
    },
  };
}
