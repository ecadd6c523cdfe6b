import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { invalidArgument, TelemeterError } from '../errors.js';
import type { MetricDefinition } from '../metrics/definitions.js';
import { UsageError } from './command.js';

/** The built-in metric sets `--metrics` accepts; `default` is all of them. */
const BUILT_IN_SETS = ['http', 'runtime'] as const;
type BuiltInSet = (typeof BUILT_IN_SETS)[number];

// Specifiers in variables: the CLI must still load, and say what is missing, when a set is not built.
const SET_MODULES: Record<BuiltInSet, { specifier: string; exportName: string }> = {
  http: { specifier: '../http/index.js', exportName: 'httpMetrics' },
  runtime: { specifier: '../runtime/index.js', exportName: 'runtimeMetrics' },
};

/** The `--module` / `--metrics` options both generator commands share. */
export const SOURCE_OPTIONS = {
  module: { type: 'string', short: 'm' },
  metrics: { type: 'string' },
} as const;

export const SOURCE_HELP = `  -m, --module <path>    ES module (relative to the current directory) exporting the metric
                         definitions as \`metrics\` (an array, or a function returning one) or as
                         its default export
      --metrics <sets>   built-in definitions: default (= http,runtime), http, runtime;
                         combine with --module to add them to yours`;

/**
 * The metric definitions named by `--module` and/or `--metrics`, module first.
 *
 * @throws UsageError when neither is given or `--metrics` names an unknown set; `ERR_TELEMETER_INVALID_ARGUMENT`
 *   when the module cannot be loaded or does not export definitions; `ERR_TELEMETER_MISSING_DEPENDENCY` when a
 *   built-in set is not in this build.
 */
export async function loadDefinitions(
  values: { module?: string; metrics?: string },
  cwd: string,
): Promise<MetricDefinition[]> {
  if (values.module === undefined && values.metrics === undefined) {
    throw new UsageError('give the metric definitions with --module <path> or --metrics default');
  }
  const definitions: MetricDefinition[] = [];
  if (values.module !== undefined) definitions.push(...(await fromModule(values.module, cwd)));
  if (values.metrics !== undefined) definitions.push(...(await builtIn(values.metrics)));
  return definitions;
}

async function fromModule(path: string, cwd: string): Promise<MetricDefinition[]> {
  if (path === '') throw new UsageError('--module needs a path');
  const url = pathToFileURL(resolve(cwd, path)).href;
  let namespace: Record<string, unknown>;
  try {
    namespace = await import(url);
  } catch (error) {
    const hint = /\.[cm]?ts$/.test(path)
      ? " (a TypeScript module needs a loader: NODE_OPTIONS='--import tsx' npx telemeter ..., or compile it first)"
      : '';
    throw new TelemeterError(
      'ERR_TELEMETER_INVALID_ARGUMENT',
      `cannot import ${path}${hint}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const name = 'metrics' in namespace ? 'metrics' : 'default' in namespace ? 'default' : undefined;
  if (name === undefined) {
    invalidArgument(
      `${path} exports neither \`metrics\` nor a default export; export the definitions, e.g. \`export const metrics = [counter(...), ...]\``,
    );
  }
  let exported = namespace[name];
  if (typeof exported === 'function') exported = await (exported as () => unknown)();
  return checkDefinitions(exported, `${path} (export ${name})`);
}

function checkDefinitions(value: unknown, where: string): MetricDefinition[] {
  if (!Array.isArray(value)) {
    invalidArgument(`${where} is not an array of metric definitions`);
  }
  value.forEach((item, index) => {
    if (
      typeof item !== 'object' ||
      item === null ||
      typeof (item as MetricDefinition).type !== 'string' ||
      typeof (item as MetricDefinition).name !== 'string'
    ) {
      invalidArgument(
        `${where}[${index}] is not a metric definition; build it with counter(), sum(), lastValue(), summary() or distribution()`,
      );
    }
  });
  return value as MetricDefinition[];
}

async function builtIn(list: string): Promise<MetricDefinition[]> {
  const sets = new Set<BuiltInSet>();
  for (const raw of list.split(',')) {
    const name = raw.trim();
    if (name === 'default') {
      for (const set of BUILT_IN_SETS) sets.add(set);
    } else if ((BUILT_IN_SETS as readonly string[]).includes(name)) sets.add(name as BuiltInSet);
    else {
      throw new UsageError(
        `--metrics: unknown set "${name}"; use default, ${BUILT_IN_SETS.join(', ')} (comma-separated)`,
      );
    }
  }
  const definitions: MetricDefinition[] = [];
  for (const set of BUILT_IN_SETS) {
    if (!sets.has(set)) continue;
    const { specifier, exportName } = SET_MODULES[set];
    let namespace: Record<string, unknown>;
    try {
      namespace = await import(specifier);
    } catch (error) {
      throw new TelemeterError(
        'ERR_TELEMETER_MISSING_DEPENDENCY',
        `the built-in ${set} metrics (telemeter/${set}) are not available in this build: ${(error as Error).message}`,
        { cause: error },
      );
    }
    const factory = namespace[exportName];
    if (typeof factory !== 'function') {
      throw new TelemeterError(
        'ERR_TELEMETER_MISSING_DEPENDENCY',
        `the built-in ${set} metrics: telemeter/${set} does not export ${exportName}()`,
      );
    }
    definitions.push(...checkDefinitions(factory(), `${exportName}()`));
  }
  return definitions;
}
