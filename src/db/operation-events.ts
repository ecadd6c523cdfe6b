/**
 * The events every database and cache integration emits, one shape for all, so that one histogram family
 * (`db_client_operation_duration_seconds`) covers PostgreSQL, MySQL/MariaDB and Redis alike, labelled as
 * OpenTelemetry's database conventions label `db.client.operation.duration`.
 */

/** Prefix of the operation events: `.start`, `.stop` and `.exception`, as `span` names them. */
export const DB_OPERATION_EVENT_PREFIX = 'db.client.operation';

/** The operation events' names. */
export const DB_OPERATION_EVENTS: Readonly<{ start: string; stop: string; exception: string }> =
  Object.freeze({
    start: `${DB_OPERATION_EVENT_PREFIX}.start`,
    stop: `${DB_OPERATION_EVENT_PREFIX}.stop`,
    exception: `${DB_OPERATION_EVENT_PREFIX}.exception`,
  });

/** `db.system.name` values of the integrations telemeter ships. */
export type DbSystemName = 'postgresql' | 'mysql' | 'mariadb' | 'redis';

/**
 * Metadata of every operation event. The four label keys are always present and always strings, `''` where a
 * value is unknown (Prometheus stores an empty label as no label), so that a metric tagged by them never drops
 * an event for a missing tag. None of them ever holds query text or a parameter value.
 */
export interface DbOperationMetadata {
  /** `postgresql`, `mysql`, `mariadb` or `redis`. */
  readonly db_system_name: DbSystemName;
  /** `SELECT`, `INSERT`, … for SQL; the command name (`GET`, `HSET`) for Redis; `BATCH <op>` for a batch. */
  readonly db_operation_name: string;
  /** The table (or `''`): parsed conservatively from the SQL, from the query's `name`, or from the user. */
  readonly db_collection_name: string;
  /** `''` on success; the error's class on failure (a SQLSTATE class such as `23`, an error code, or a name). */
  readonly error_type: string;
  /** The database (PostgreSQL `database`, MySQL schema, Redis index as a string), when known. */
  readonly db_namespace?: string;
  /** Host or socket path of the server, when known. */
  readonly server_address?: string;
  readonly server_port?: number;
  /** Operations in a batch (a Redis pipeline or MULTI), when the event stands for a batch. */
  readonly batch_size?: number;
}

/** Label keys of the shared operation histogram, in the order a scrape writes them. */
export const DB_OPERATION_TAGS = Object.freeze([
  'db_system_name',
  'db_operation_name',
  'db_collection_name',
  'error_type',
] as const);
