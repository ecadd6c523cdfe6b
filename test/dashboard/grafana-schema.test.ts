/**
 * Every dashboard telemeter generates (the demo's, the CLI's variants, the fixtures') is Grafana's current JSON
 * model: it type-checks against `@grafana/schema` (see grafana-typecheck.ts), uses the schema version that
 * package declares, can be imported with a data source picked at import time, and shows every unit telemeter
 * knows with a unit id Grafana has.
 */
import { defaultDashboard } from '@grafana/schema';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CliIo } from '../../src/cli/command.js';
import { demoMetrics } from '../../src/cli/demo/start.js';
import { run as grafanaCommand } from '../../src/cli/grafana-command.js';
import { type GrafanaDashboard, type GrafanaPanel, grafanaDashboard } from '../../src/dashboard/index.js';
import { httpMetrics } from '../../src/http/index.js';
import { counter, distribution, lastValue, sum, summary } from '../../src/index.js';
import { BYTE_UNITS, TIME_UNITS } from '../../src/metrics/units.js';
import { runtimeMetrics } from '../../src/runtime/index.js';
import { metrics as fixtureMetrics } from '../fixtures/telemetry.js';
import { type SchemaError, typeCheckDashboards } from './grafana-typecheck.js';

/** A definition per unit telemeter converts between, and per conventional unit label, in each metric type. */
function unitMetrics() {
  const units = [...TIME_UNITS, ...BYTE_UNITS, 'celsius', 'EUR', 'percent'];
  return units.flatMap((unit) => [
    sum(`units.${unit}.sum`, { unit }),
    lastValue(`units.${unit}.last`, { unit }),
    distribution(`units.${unit}.dist`, { unit, reporterOptions: { buckets: [1, 10] } }),
    summary(`units.${unit}.summary`, { unit }),
  ]);
}

async function cliDashboard(args: string[]): Promise<GrafanaDashboard> {
  let out = '';
  const io: CliIo = {
    cwd: process.cwd(),
    stdout: (text) => {
      out += text;
    },
    stderr: () => {},
  };
  expect(await grafanaCommand(args, io)).toBe(0);
  return JSON.parse(out);
}

function visualPanels(dashboard: GrafanaDashboard): GrafanaPanel[] {
  return dashboard.panels.flatMap((p) => [p, ...((p.panels as GrafanaPanel[] | undefined) ?? [])]);
}

function unitsOf(dashboard: GrafanaDashboard): Map<string, string> {
  const units = new Map<string, string>();
  for (const panel of visualPanels(dashboard)) {
    const config = panel.fieldConfig as { defaults: { unit?: string } } | undefined;
    const unit = config?.defaults.unit ?? (panel.options as any)?.yAxis?.unit;
    if (unit !== undefined) units.set(panel.title, unit);
  }
  return units;
}

/**
 * The Grafana unit ids telemeter may emit, each as listed in Grafana's
 * `packages/grafana-data/src/valueFormats/categories.ts`, and the custom forms its `getValueFormat` parses.
 * Grafana shows an id it does not know as literal text after each value, so a typo is no error there.
 */
const GRAFANA_UNIT_IDS = new Set([
  'none',
  'short',
  'percent',
  'percentunit',
  'ns',
  'µs',
  'ms',
  's',
  'bytes',
  'deckbytes',
  'decmbytes',
  'Bps',
  'KBs',
  'MBs',
  'celsius',
  'fahrenheit',
  'kelvin',
  'dateTimeAsIso',
  'ops',
  'reqps',
  'currencyUSD',
  'currencyGBP',
  'currencyEUR',
]);
const CUSTOM_UNIT = /^suffix:.+$/;
// biome-ignore lint/suspicious/noTemplateCurlyInString: the import format's placeholder, replaced by Grafana
const PLACEHOLDER = '${DS_PROMETHEUS}';

/** The unit of the first panel of `dashboard` whose title starts with `title`. */
function unitOfPanel(dashboard: GrafanaDashboard, title: string): string | undefined {
  return unitsOf(dashboard).get([...unitsOf(dashboard).keys()].find((t) => t.startsWith(title)) ?? '');
}

describe('generated dashboards against @grafana/schema', () => {
  const dashboards: Record<string, GrafanaDashboard> = {};
  let errors: SchemaError[] = [];
  let brokenIds: { timeseries: number; heatmap: number; stat: number };

  beforeAll(async () => {
    dashboards.demo = grafanaDashboard(demoMetrics(), { title: 'telemeter demo' });
    dashboards.fixture = grafanaDashboard([...fixtureMetrics, ...httpMetrics(), ...runtimeMetrics()]);
    dashboards.units = grafanaDashboard(unitMetrics(), { selfMetrics: false });
    dashboards.prefixed = grafanaDashboard(runtimeMetrics({ prefix: 'shop' }), { job: 'shop' });
    dashboards.cliDefault = await cliDashboard(['--metrics', 'default']);
    dashboards.cliHttp = await cliDashboard(['--metrics', 'http', '--no-self-metrics', '--job', 'shop']);
    dashboards.cliModule = await cliDashboard([
      '--module',
      'test/fixtures/telemetry.ts',
      '--title',
      'Fixture',
      '--uid',
      'fixture',
    ]);
    // The drift, each on a copy of a valid dashboard: every one must be an error of its own.
    const broken = structuredClone(dashboards.demo) as any;
    broken.templating.list[0].current = {};
    const restarts = broken.annotations.list.find((a: any) => a.name === 'Restarts');
    restarts.expr = restarts.target.expr;
    delete restarts.target;
    const timeseries = broken.panels.find((p: any) => p.type === 'timeseries');
    timeseries.options.legend.displayMode = 'lists';
    const heatmap = broken.panels.find((p: any) => p.type === 'heatmap');
    delete heatmap.options.showValue;
    const stat = broken.panels.find((p: any) => p.type === 'stat');
    stat.options.percentChangeColorMode = 'red';
    brokenIds = { timeseries: timeseries.id, heatmap: heatmap.id, stat: stat.id };
    errors = await typeCheckDashboards({ ...dashboards, broken });
  }, 120_000);

  it('can fail: each break of the model is an error in the declaration that holds it', () => {
    const ids = brokenIds;
    const at = (declaration: string) =>
      errors.filter((e) => e.declaration === declaration).map((e) => e.message);
    expect(at('broken').join('\n')).toMatch(/missing the following properties .*: text, value/);
    expect(at('broken').join('\n')).toMatch(/'"expr"' does not exist/);
    expect(at(`broken.panel${ids.timeseries}`).join('\n')).toMatch(/"lists"/);
    expect(at(`broken.panel${ids.heatmap}`).join('\n')).toMatch(/showValue/);
    expect(at(`broken.panel${ids.stat}`).join('\n')).toMatch(/"red"/);
    expect(at('broken.annotation2').join('\n')).toMatch(/'"expr"' does not exist/);
  });

  it('type-checks every generated dashboard, panel and annotation', () => {
    const valid = errors.filter((e) => !e.declaration.startsWith('broken'));
    expect(valid.map((e) => `${e.declaration}: ${e.message}`)).toEqual([]);
    expect(Object.keys(dashboards).length).toBe(7);
  });

  it('uses the schema version @grafana/schema declares', () => {
    expect(defaultDashboard.schemaVersion).toBe(42);
    for (const dashboard of Object.values(dashboards)) {
      expect(dashboard.schemaVersion).toBe(defaultDashboard.schemaVersion);
    }
  });

  it('asks for the Prometheus data source on import, and requires what it uses', () => {
    for (const [name, dashboard] of Object.entries(dashboards)) {
      expect(dashboard.__inputs, name).toEqual([
        expect.objectContaining({ name: 'DS_PROMETHEUS', type: 'datasource', pluginId: 'prometheus' }),
      ]);
      // The importer replaces ${DS_PROMETHEUS}; the variable every panel reads holds it.
      const variable = dashboard.templating.list.find((v) => v.name === 'datasource');
      expect(variable?.current, name).toEqual({ selected: false, text: PLACEHOLDER, value: PLACEHOLDER });
      const used = new Set(visualPanels(dashboard).map((p) => p.type));
      used.delete('row');
      expect(dashboard.__requires, name).toEqual([
        { type: 'grafana', id: 'grafana', name: 'Grafana', version: '12.2.0' },
        { type: 'datasource', id: 'prometheus', name: 'Prometheus', version: '1.0.0' },
        ...[...used].sort().map((id) => expect.objectContaining({ type: 'panel', id, version: '' })),
      ]);
    }
  });

  it('marks restarts from the start time itself, in the current annotation layout', () => {
    const restarts = dashboards.demo.annotations.list.find((a) => a.name === 'Restarts');
    expect(restarts).toMatchObject({
      datasource: { type: 'prometheus' },
      target: { expr: 'process_start_time_seconds{job=~"$job",instance=~"$instance"} * 1000', refId: 'Anno' },
      useValueForTime: true,
    });
    expect(restarts).not.toHaveProperty('expr');
    expect(JSON.stringify(restarts)).not.toContain('$__interval');
    // No start time, no Restarts.
    expect(dashboards.cliHttp.annotations.list.map((a) => a.name)).not.toContain('Restarts');
  });

  it('emits only unit ids Grafana knows', () => {
    for (const [name, dashboard] of Object.entries(dashboards)) {
      for (const [title, unit] of unitsOf(dashboard)) {
        expect(GRAFANA_UNIT_IDS.has(unit) || CUSTOM_UNIT.test(unit), `${name}: ${title}: ${unit}`).toBe(true);
      }
    }
  });

  it('shows every unit telemeter knows with its own unit, values and rates', () => {
    const units = unitsOf(dashboards.units);
    const expected: Record<string, [value: string, rate: string]> = {
      second: ['s', 'percentunit'],
      millisecond: ['ms', 'suffix:ms/s'],
      microsecond: ['µs', 'suffix:µs/s'],
      nanosecond: ['ns', 'suffix:ns/s'],
      native: ['ns', 'suffix:ns/s'],
      byte: ['bytes', 'Bps'],
      kilobyte: ['deckbytes', 'KBs'],
      megabyte: ['decmbytes', 'MBs'],
      celsius: ['celsius', 'suffix:°C/s'],
      EUR: ['currencyEUR', 'suffix:EUR/s'],
      percent: ['percent', 'suffix:%/s'],
    };
    expect(Object.keys(expected).sort()).toEqual(
      [...TIME_UNITS, ...BYTE_UNITS, 'celsius', 'EUR', 'percent'].sort(),
    );
    for (const [unit, [value, rate]] of Object.entries(expected)) {
      const family = `units_${unit}`;
      const titled = (suffix: string) =>
        [...units].find(([title]) => title.startsWith(`${family}_`) && title.includes(suffix))?.[1];
      expect(titled('_sum_total per second') ?? titled('_sum per second'), `${unit} rate`).toBe(rate);
      expect(titled('_last'), `${unit} gauge`).toBe(value);
      expect(titled('_dist'), `${unit} histogram`).toBe(value);
      expect(titled('_summary'), `${unit} summary`).toBe(value);
    }
  });

  it('shows the start time as a date, money rates in money, event counts as ops', () => {
    const demo = dashboards.demo;
    expect(unitOfPanel(demo, 'process_start_time_seconds')).toBe('dateTimeAsIso');
    // Grafana's date units read milliseconds.
    const start = visualPanels(demo).find((p) => p.title === 'process_start_time_seconds');
    expect(start?.targets?.[0].expr).toMatch(/^process_start_time_seconds\{.*\} \* 1000$/);
    // A sum without a unit: its rate is a number per second, not operations.
    expect(unitOfPanel(demo, 'shop_order_amount')).toBe('short');
    const only = { selfMetrics: false };
    const euros = grafanaDashboard([sum('shop.order.amount', { unit: 'EUR' })], only);
    expect(unitOfPanel(euros, 'shop_order_amount')).toBe('suffix:EUR/s');
    // A counter counts orders, whatever the unit of what it measures.
    const orders = grafanaDashboard([counter('shop.orders', { unit: 'EUR' })], only);
    expect(unitOfPanel(orders, 'shop_orders')).toBe('ops');
    const temperature = grafanaDashboard([lastValue('room.temperature.celsius')], only);
    expect(unitOfPanel(temperature, 'room_temperature_celsius')).toBe('celsius');
  });
});
