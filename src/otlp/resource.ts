import type { OtlpEnvironment } from './environment.js';

/** A resource attribute's value: a string, a boolean, an integer (OTLP `int_value`) or another number (`double_value`). */
export type AttributeValue = string | number | boolean;

/** Resource attributes in the order sent: defaults, then the environment's, then the `resource` option's. */
export type ResourceAttributes = ReadonlyArray<readonly [string, AttributeValue]>;

/** Resource attributes before the first export: the `service.instance.id` may still be to make. */
export type PendingResource = ReadonlyArray<readonly [string, AttributeValue | typeof INSTANCE_ID_PENDING]>;

/**
 * telemeter's version, sent as `telemetry.sdk.version`. Written here rather than read from package.json, which a
 * bundled Worker does not have; a test keeps the two equal.
 */
export const TELEMETER_VERSION = '0.1.0';

/**
 * The resource of every export, as resource/sdk.md merges it: the attributes an SDK must provide
 * (`service.name`, `telemetry.sdk.*`) and a `service.instance.id` fresh per start (the triplet of namespace, name
 * and instance id must be unique, and Prometheus turns it into `instance`), then `OTEL_RESOURCE_ATTRIBUTES`,
 * then `OTEL_SERVICE_NAME`, then the `resource` option. A later source wins for the same key.
 */
export function resourceAttributes(
  given: Readonly<Record<string, AttributeValue>>,
  env: Pick<OtlpEnvironment, 'serviceName' | 'resourceAttributes'>,
): PendingResource {
  const merged = new Map<string, AttributeValue | typeof INSTANCE_ID_PENDING>([
    ['service.name', `unknown_service:${executableName()}`],
    ['service.instance.id', INSTANCE_ID_PENDING],
    ['telemetry.sdk.name', 'telemeter'],
    ['telemetry.sdk.language', 'nodejs'],
    ['telemetry.sdk.version', TELEMETER_VERSION],
  ]);
  for (const [key, value] of Object.entries(env.resourceAttributes)) merged.set(key, value);
  if (env.serviceName !== undefined) merged.set('service.name', env.serviceName);
  for (const [key, value] of Object.entries(given)) merged.set(key, value);
  return [...merged];
}

/**
 * Stands for a `service.instance.id` not made yet: a Worker refuses random values while its module's top level
 * runs, where an exporter is started, so the id is made at the first export ({@link withInstanceId}).
 */
const INSTANCE_ID_PENDING = Symbol('service.instance.id');

/** `attributes` with a fresh random UUID for a pending `service.instance.id`. */
export function withInstanceId(attributes: PendingResource): ResourceAttributes {
  return attributes.map(([key, value]) => [
    key,
    value === INSTANCE_ID_PENDING ? globalThis.crypto.randomUUID() : value,
  ]);
}

/** The runtime's executable name (`node`, `bun`, `deno`), as `unknown_service:<name>` wants it; `js` without a process. */
function executableName(): string {
  const path = (globalThis as { process?: { execPath?: unknown } }).process?.execPath;
  if (typeof path !== 'string' || path === '') return 'js';
  return (
    path
      .split(/[\\/]/)
      .pop()
      ?.replace(/\.exe$/i, '') || 'js'
  );
}
