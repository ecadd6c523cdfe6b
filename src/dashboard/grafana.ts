import { createHash } from 'node:crypto';
import { invalidOption } from '../errors.js';
import type { MetricDefinition } from '../metrics/definitions.js';
import { checkOptionKeys } from '../options.js';
import { type ExportedMetric, exportedMetrics, findMetric, type MetricGroup } from './exported-metrics.js';
import { rateUnit, valueDisplay } from './grafana-units.js';
import { bucketRates, legendOf, selector, sumBy, TARGET_MATCHERS } from './promql.js';
import { BULLMQ_ROW, bullmqHeadlines } from './rows-bullmq.js';
import { databasePanels } from './rows-database.js';
import { redisPanels } from './rows-redis.js';

/** Options of {@link grafanaDashboard}. */
export interface GrafanaDashboardOptions {
  /** Dashboard title. Default `'telemeter'`. */
  readonly title?: string;
  /** Dashboard uid (1–40 of `[A-Za-z0-9_-]`). Default: derived from the title, so regenerating keeps it. */
  readonly uid?: string;
  /** The scrape job selected when the dashboard opens. Default: All. */
  readonly job?: string;
  /**
   * Include telemeter's own metrics (scrapes, dropped events, series), as a Telemeter does unless
   * `selfMetrics: false`. It also picks the metric the `job` and `instance` variables list
   * (`telemeter_series`, or `up` without self-metrics). Default true.
   */
  readonly selfMetrics?: boolean;
  /** Auto-refresh interval. Default `'30s'`. */
  readonly refresh?: string;
  /** Dashboard tags. Default `['telemeter']`. */
  readonly tags?: readonly string[];
}

/**
 * A Grafana dashboard JSON model: import it as is, or write it to a provisioning folder. It type-checks against
 * `Dashboard` of `@grafana/schema` (telemeter's tests check it), plus the `__inputs` and `__requires` of
 * Grafana's export format.
 */
export type GrafanaDashboard = Record<string, unknown> & {
  /** The data source an import asks for (`DS_PROMETHEUS`); Grafana's importer replaces `${DS_PROMETHEUS}` with it. */
  readonly __inputs: GrafanaImportInput[];
  /** What the dashboard needs: the Grafana version of its schema, the Prometheus data source, its panel types. */
  readonly __requires: GrafanaRequirement[];
  readonly title: string;
  readonly uid: string;
  readonly schemaVersion: number;
  readonly panels: GrafanaPanel[];
  readonly templating: { list: Array<Record<string, unknown>> };
  readonly annotations: { list: Array<Record<string, unknown>> };
};

/** An input of Grafana's import format. */
export interface GrafanaImportInput {
  readonly name: string;
  readonly label: string;
  readonly description: string;
  readonly type: 'datasource';
  readonly pluginId: string;
  readonly pluginName: string;
}

/** A requirement of Grafana's import format. */
export interface GrafanaRequirement {
  readonly type: 'grafana' | 'datasource' | 'panel';
  readonly id: string;
  readonly name: string;
  readonly version: string;
}

/** A panel of the model; rows carry no targets. */
export type GrafanaPanel = Record<string, unknown> & {
  readonly id: number;
  readonly type: 'row' | 'timeseries' | 'heatmap' | 'stat';
  readonly title: string;
  readonly gridPos: { h: number; w: number; x: number; y: number };
  readonly targets?: GrafanaTarget[];
};

/** A Prometheus query of a panel. */
export type GrafanaTarget = Record<string, unknown> & {
  readonly expr: string;
  readonly refId: string;
  readonly legendFormat: string;
};

/**
 * The schema version the model is written for: the current one, which `@grafana/schema` 13 declares and
 * Grafana 12.2 and later write. Grafana migrates older versions when it loads them, never newer ones.
 */
export const SCHEMA_VERSION = 42;
/** The Grafana version that introduced {@link SCHEMA_VERSION}, for `__requires`. */
const GRAFANA_VERSION = '12.2.0';
/** The import input that stands for the Prometheus data source the user picks when importing. */
const DATASOURCE_INPUT = 'DS_PROMETHEUS';
const PANEL_NAMES: Record<Exclude<GrafanaPanel['type'], 'row'>, string> = {
  heatmap: 'Heatmap',
  stat: 'Stat',
  timeseries: 'Time series',
};
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana resolves ${datasource} when the dashboard loads
const DATASOURCE = Object.freeze({ type: 'prometheus', uid: '${datasource}' });
const GRAFANA_DATASOURCE = Object.freeze({ type: 'grafana', uid: '-- Grafana --' });
const QUANTILES = ['0.5', '0.9', '0.99'] as const;
const RATE = '[$__rate_interval]';
const KNOWN_OPTIONS = new Set(['title', 'uid', 'job', 'selfMetrics', 'refresh', 'tags']);

/**
 * Generates a Grafana dashboard from the same metric definitions the Telemeter aggregates, so the
 * dashboard cannot drift from the metrics: one row per group (HTTP, each application prefix, Node.js
 * runtime, telemeter's own), and per metric the query that fits how Prometheus stores it:
 *
 * - counter (and `sum`): `sum by (<tags>) (rate(<family>_total[$__rate_interval]))`;
 * - gauge (`lastValue`, `sum` with `prometheusType: 'gauge'`): the values, per instance;
 * - distribution: p50/p90/p99 via `histogram_quantile`, and a heatmap of the buckets;
 * - summary: the p50/p90/p99 quantile series per instance (never aggregated), and the mean from `_sum`/`_count`.
 *
 * Every query is filtered by the `job` and `instance` variables (multi-select, with All for the fleet);
 * every panel reads the `${datasource}` variable. The output is deterministic: same input, same JSON.
 *
 * ```ts
 * import { writeFileSync } from 'node:fs';
 * import { grafanaDashboard } from 'telemeter/dashboard';
 * import { httpMetrics } from 'telemeter/http';
 *
 * const dashboard = grafanaDashboard(httpMetrics(), { title: 'Shop' });
 * writeFileSync('dashboard.json', JSON.stringify(dashboard, null, 2));
 * console.log(dashboard.panels.find((panel) => panel.type === 'timeseries')?.title);
 * //=> http_server_requests_total per second
 * ```
 *
 * @throws TelemeterTypeError `ERR_TELEMETER_UNKNOWN_OPTION` (with the closest valid key) or
 *   `ERR_TELEMETER_INVALID_OPTION` naming the option; `ERR_TELEMETER_INVALID_ARGUMENT` when an entry is not a
 *   metric definition; `ERR_TELEMETER_DUPLICATE_NAME` when two definitions export the same name.
 */
export function grafanaDashboard(
  definitions: readonly MetricDefinition[],
  options: GrafanaDashboardOptions = {},
): GrafanaDashboard {
  const config = resolveOptions(options);
  const metrics = exportedMetrics(definitions, config.selfMetrics, 'telemeter: grafanaDashboard');
  const layout = new Layout();

  const stats = overviewStats(metrics);
  layout.row('Overview');
  for (const stat of stats) layout.add(stat, Math.max(4, Math.floor(24 / stats.length)), 4);

  for (const { title, members } of rows(metrics)) {
    layout.row(title);
    if (title === 'redis')
      for (const panel of redisPanels(metrics, { timeseries, target })) layout.add(panel, 8, 8);
    const headlines = title === BULLMQ_ROW ? bullmqHeadlines(metrics, TARGET_MATCHERS, RATE) : [];
    for (const { targets, ...spec } of headlines) {
      const queries = targets.map((t, i) => target(t.expr, t.legendFormat, refId(i)));
      layout.add(timeseries({ ...spec, targets: queries, minZero: true }), 12, 8);
    }
    for (const metric of members) {
      const panels = databasePanels(metric, { timeseries, target }) ?? metricPanels(metric);
      for (const [panel, width] of panels) layout.add(panel, width, 8);
    }
  }

  const annotations: Array<Record<string, unknown>> = [
    {
      builtIn: 1,
      datasource: GRAFANA_DATASOURCE,
      enable: true,
      hide: true,
      iconColor: 'rgba(0, 211, 255, 1)',
      name: 'Annotations & Alerts',
      type: 'dashboard',
    },
    {
      datasource: GRAFANA_DATASOURCE,
      enable: true,
      iconColor: 'purple',
      name: 'Deploys',
      target: { limit: 100, matchAny: true, refId: 'Anno', tags: ['deploy'], type: 'tags' },
    },
  ];
  const start = findMetric(metrics, 'process_start_time_seconds', 'gauge');
  if (start !== undefined) annotations.push(restartsAnnotation(start));

  const anchor = config.selfMetrics ? 'telemeter_series' : 'up';
  return {
    __inputs: [
      {
        name: DATASOURCE_INPUT,
        label: 'Prometheus',
        description: 'The Prometheus (or compatible) data source that scrapes the Telemeters.',
        type: 'datasource',
        pluginId: 'prometheus',
        pluginName: 'Prometheus',
      },
    ],
    __requires: requirements(layout.panels),
    annotations: { list: annotations },
    description: 'Generated by telemeter from its metric definitions; regenerate instead of editing.',
    editable: true,
    fiscalYearStartMonth: 0,
    graphTooltip: 1,
    id: null,
    links: [],
    liveNow: false,
    panels: layout.panels,
    refresh: config.refresh,
    schemaVersion: SCHEMA_VERSION,
    tags: config.tags,
    templating: {
      list: [
        {
          // The importer replaces ${DS_PROMETHEUS} with the data source the user picks, and every panel reads
          // the variable. Loaded without the importer (provisioning, the HTTP API), the value matches no data
          // source and Grafana selects the first Prometheus one.
          current: { selected: false, text: `\${${DATASOURCE_INPUT}}`, value: `\${${DATASOURCE_INPUT}}` },
          hide: 0,
          includeAll: false,
          label: 'Data source',
          multi: false,
          name: 'datasource',
          options: [],
          query: 'prometheus',
          refresh: 1,
          regex: '',
          skipUrlSync: false,
          type: 'datasource',
        },
        queryVariable('job', 'Job', `label_values(${anchor}, job)`, config.job),
        queryVariable('instance', 'Instance', `label_values(${anchor}{job=~"$job"}, instance)`, undefined),
      ],
    },
    time: { from: 'now-1h', to: 'now' },
    timepicker: {},
    timezone: '',
    title: config.title,
    uid: config.uid,
    version: 1,
    weekStart: '',
  };
}

interface ResolvedOptions {
  title: string;
  uid: string;
  job: string | undefined;
  selfMetrics: boolean;
  refresh: string;
  tags: string[];
}

function resolveOptions(options: GrafanaDashboardOptions): ResolvedOptions {
  const where = 'telemeter: grafanaDashboard';
  const fail = (option: string, why: string): never => invalidOption(`${where}: option ${option} ${why}`);
  checkOptionKeys(where, options, KNOWN_OPTIONS);
  const title = options.title ?? 'telemeter';
  if (typeof title !== 'string' || title.trim() === '') fail('title', 'must be a non-empty string');
  const uid = options.uid ?? `telemeter-${createHash('sha256').update(title).digest('hex').slice(0, 16)}`;
  if (typeof uid !== 'string' || !/^[A-Za-z0-9_-]{1,40}$/.test(uid)) {
    fail('uid', 'must be 1 to 40 letters, digits, "-" or "_"');
  }
  if (options.job !== undefined && (typeof options.job !== 'string' || options.job === '')) {
    fail('job', 'must be a non-empty string');
  }
  if (options.selfMetrics !== undefined && typeof options.selfMetrics !== 'boolean') {
    fail('selfMetrics', 'must be a boolean');
  }
  const refresh = options.refresh ?? '30s';
  if (typeof refresh !== 'string' || !/^(\d+[smhd])?$/.test(refresh)) {
    fail('refresh', 'must be an interval such as "30s" or "1m", or "" for none');
  }
  const tags = options.tags ?? ['telemeter'];
  if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string'))
    fail('tags', 'must be an array of strings');
  return { title, uid, job: options.job, selfMetrics: options.selfMetrics ?? true, refresh, tags: [...tags] };
}

/**
 * The Restarts annotation: one mark at the moment each process started, whatever the step.
 *
 * The query returns the start time itself (in ms) and `useValueForTime` makes Grafana place the mark at that
 * value instead of at the sample's time. Every sample of one process carries the same start time, and Grafana
 * merges marks closer than one step into one, so each process gives exactly one mark, at its exact start, for
 * any step (test/dashboard/restarts-annotation.test.ts). A condition over a window (`changes(…[$__interval]) > 0`)
 * depends on the step instead: Grafana queries annotations with a step of its own (60 s by default) while
 * `$__interval` follows the panel width down to 15 s, so a window shorter than the step misses the restarts
 * between two evaluations, and a longer one turns a restart into a span. Only a process that lived less than
 * one step, never the latest sample at any step, gets no mark; restarts closer than one step merge into a span.
 */
function restartsAnnotation(start: ExportedMetric): Record<string, unknown> {
  return {
    datasource: DATASOURCE,
    enable: true,
    iconColor: 'orange',
    name: 'Restarts',
    target: {
      expr: `${selector(start.series, TARGET_MATCHERS)} * 1000`,
      interval: '',
      refId: 'Anno',
    },
    tagKeys: 'job,instance',
    textFormat: '{{job}} {{instance}}',
    titleFormat: 'Process started',
    useValueForTime: true,
  };
}

/** `__requires` of the import format: Grafana, the Prometheus data source, and each panel type used. */
function requirements(panels: readonly GrafanaPanel[]): GrafanaRequirement[] {
  const types = new Set<Exclude<GrafanaPanel['type'], 'row'>>();
  for (const panel of panels) if (panel.type !== 'row') types.add(panel.type);
  return [
    { type: 'grafana', id: 'grafana', name: 'Grafana', version: GRAFANA_VERSION },
    { type: 'datasource', id: 'prometheus', name: 'Prometheus', version: '1.0.0' },
    ...[...types].sort().map((id) => ({ type: 'panel' as const, id, name: PANEL_NAMES[id], version: '' })),
  ];
}

function queryVariable(name: string, label: string, query: string, selected: string | undefined) {
  return {
    allValue: '.*',
    current:
      selected === undefined
        ? { selected: true, text: ['All'], value: ['$__all'] }
        : { selected: true, text: [selected], value: [selected] },
    datasource: DATASOURCE,
    hide: 0,
    includeAll: true,
    label,
    multi: true,
    name,
    options: [],
    query: { qryType: 1, query, refId: 'PrometheusVariableQueryEditor-VariableQuery' },
    refresh: 2,
    regex: '',
    skipUrlSync: false,
    sort: 1,
    type: 'query',
  };
}

/** Places panels left to right in rows of 24 units, and numbers them in order. */
class Layout {
  readonly panels: GrafanaPanel[] = [];
  private y = 0;
  private x = 0;
  private lineHeight = 0;

  row(title: string): void {
    this.newLine();
    this.push({ type: 'row', title, collapsed: false, panels: [] }, 24, 1);
    this.newLine();
  }

  add(panel: PanelBody, w: number, h: number): void {
    if (this.x + w > 24) this.newLine();
    this.push(panel, w, h);
  }

  private push(panel: PanelBody, w: number, h: number): void {
    const id = this.panels.length + 1;
    this.panels.push({ id, gridPos: { h, w, x: this.x, y: this.y }, ...panel } as GrafanaPanel);
    this.x += w;
    this.lineHeight = Math.max(this.lineHeight, h);
  }

  private newLine(): void {
    if (this.x === 0) return;
    this.y += this.lineHeight;
    this.x = 0;
    this.lineHeight = 0;
  }
}

export type PanelBody = Record<string, unknown> & { type: GrafanaPanel['type']; title: string };

/** The panel builders an integration's row file (rows-<x>.ts) composes its panels from. */
export interface PanelBuilders {
  readonly timeseries: typeof timeseries;
  readonly target: typeof target;
}

function rows(metrics: readonly ExportedMetric[]): Array<{ title: string; members: ExportedMetric[] }> {
  const byKey = new Map<string, { title: string; members: ExportedMetric[]; order: number }>();
  for (const metric of metrics) {
    const { key, title, order } = rowOf(metric.group);
    let row = byKey.get(key);
    if (row === undefined) {
      row = { title, members: [], order };
      byKey.set(key, row);
    }
    row.members.push(metric);
  }
  // Map keeps first-seen order, and sort is stable: application rows stay in definition order.
  return [...byKey.values()].sort((a, b) => a.order - b.order);
}

function rowOf(group: MetricGroup): { key: string; title: string; order: number } {
  switch (group.kind) {
    case 'http':
      return { key: 'http', title: 'HTTP', order: 0 };
    case 'database':
      return { key: 'database', title: 'Databases', order: 0.5 };
    case 'app':
      return { key: `app:${group.segment}`, title: group.segment, order: 1 };
    case 'runtime':
      return { key: 'runtime', title: 'Node.js runtime', order: 2 };
    default:
      return { key: 'telemeter', title: 'telemeter', order: 3 };
  }
}

function target(expr: string, legendFormat: string, refId: string, extra: Record<string, unknown> = {}) {
  return {
    datasource: DATASOURCE,
    editorMode: 'code',
    expr,
    legendFormat,
    range: true,
    refId,
    ...extra,
  };
}

/** `0.99` → `p99`. */
function percentile(quantile: string): string {
  return `p${String(Math.round(Number(quantile) * 100))}`;
}

function refId(index: number): string {
  return String.fromCharCode(65 + index);
}

export interface SeriesPanelSpec {
  title: string;
  description: string;
  unit: string;
  targets: ReturnType<typeof target>[];
  /** Rates and sizes start at zero; gauges that can go negative do not. */
  minZero: boolean;
}

function timeseries(spec: SeriesPanelSpec): PanelBody {
  return {
    type: 'timeseries',
    title: spec.title,
    description: spec.description,
    datasource: DATASOURCE,
    fieldConfig: {
      defaults: {
        color: { mode: 'palette-classic' },
        custom: {
          axisPlacement: 'auto',
          drawStyle: 'line',
          fillOpacity: 10,
          gradientMode: 'none',
          lineInterpolation: 'linear',
          lineWidth: 1,
          pointSize: 4,
          showPoints: 'never',
          spanNulls: false,
          stacking: { group: 'A', mode: 'none' },
        },
        ...(spec.minZero ? { min: 0 } : {}),
        unit: spec.unit,
      },
      overrides: [],
    },
    options: {
      legend: { calcs: [], displayMode: 'list', placement: 'bottom', showLegend: true },
      tooltip: { mode: 'multi', sort: 'desc' },
    },
    targets: spec.targets,
  };
}

function heatmap(title: string, description: string, unit: string, expr: string): PanelBody {
  return {
    type: 'heatmap',
    title,
    description,
    datasource: DATASOURCE,
    fieldConfig: { defaults: { custom: { scaleDistribution: { type: 'linear' } } }, overrides: [] },
    options: {
      calculate: false,
      cellGap: 1,
      color: {
        exponent: 0.5,
        fill: 'dark-orange',
        mode: 'scheme',
        reverse: false,
        scale: 'exponential',
        scheme: 'Oranges',
        steps: 64,
      },
      exemplars: { color: 'rgba(255,0,255,0.7)' },
      filterValues: { le: 1e-9 },
      legend: { show: true },
      rowsFrame: { layout: 'auto' },
      showValue: 'auto',
      tooltip: { mode: 'single', showColorScale: false, yHistogram: true },
      yAxis: { axisPlacement: 'left', reverse: false, unit },
    },
    targets: [target(expr, '{{le}}', 'A', { format: 'heatmap' })],
  };
}

function stat(
  title: string,
  description: string,
  unit: string,
  expr: string,
  thresholds: Array<{ color: string; value: number | null }>,
): PanelBody {
  return {
    type: 'stat',
    title,
    description,
    datasource: DATASOURCE,
    fieldConfig: {
      defaults: {
        color: { mode: 'thresholds' },
        mappings: [],
        thresholds: { mode: 'absolute', steps: thresholds },
        unit,
      },
      overrides: [],
    },
    options: {
      colorMode: 'value',
      graphMode: 'area',
      justifyMode: 'auto',
      orientation: 'auto',
      percentChangeColorMode: 'standard',
      reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
      showPercentChange: false,
      textMode: 'auto',
      wideLayout: true,
    },
    targets: [target(expr, title, 'A')],
  };
}

const GREEN = { color: 'green', value: null };

function overviewStats(metrics: readonly ExportedMetric[]): PanelBody[] {
  const panels: PanelBody[] = [
    stat(
      'Targets up',
      'Scrape targets that answered their last scrape.',
      'none',
      `sum(${selector('up', TARGET_MATCHERS)})`,
      [
        { color: 'red', value: null },
        { color: 'green', value: 1 },
      ],
    ),
  ];
  const requests = findMetric(metrics, 'http_server_requests', 'counter');
  if (requests !== undefined) {
    const all = `sum(rate(${selector(requests.series, TARGET_MATCHERS)}${RATE}))`;
    panels.push(stat('Request rate', 'HTTP requests finished per second.', 'reqps', all, [GREEN]));
    if (requests.tags.includes('status')) {
      const failed = `sum(rate(${selector(requests.series, [...TARGET_MATCHERS, 'status=~"5.."'])}${RATE}))`;
      panels.push(
        stat(
          '5xx ratio',
          'Share of HTTP requests answered with a 5xx status.',
          'percentunit',
          `${failed} / ${all}`,
          [GREEN, { color: 'orange', value: 0.01 }, { color: 'red', value: 0.05 }],
        ),
      );
    }
  }
  const start = findMetric(metrics, 'process_start_time_seconds', 'gauge');
  if (start !== undefined) {
    panels.push(
      stat(
        'Uptime',
        'Time since the most recent process start among the selected targets.',
        's',
        `time() - max(${selector(start.series, TARGET_MATCHERS)})`,
        [
          { color: 'orange', value: null },
          { color: 'green', value: 600 },
        ],
      ),
    );
  }
  const rss = findMetric(metrics, 'process_resident_memory_bytes', 'gauge');
  if (rss !== undefined) {
    panels.push(
      stat(
        'Resident memory',
        'Resident memory (RSS) of the selected targets, summed.',
        'bytes',
        `sum(${selector(rss.series, TARGET_MATCHERS)})`,
        [GREEN],
      ),
    );
  }
  return panels;
}

/** The panels of one metric, each with its width. */
function metricPanels(metric: ExportedMetric): Array<[PanelBody, number]> {
  const description = metric.help || metric.sourceName;
  const { tags, series } = metric;
  switch (metric.kind) {
    case 'counter': {
      const expr = sumBy(tags, `rate(${selector(series, TARGET_MATCHERS)}${RATE})`);
      return [
        [
          timeseries({
            title: `${series} per second`,
            description,
            unit: rateUnit(metric),
            targets: [target(expr, legendOf(tags, series), 'A')],
            minZero: true,
          }),
          12,
        ],
      ];
    }
    case 'gauge': {
      const labels = ['instance', ...tags.filter((t) => t !== 'instance')];
      const { unit, factor } = valueDisplay(metric);
      const values = selector(series, TARGET_MATCHERS);
      return [
        [
          timeseries({
            title: series,
            description,
            unit,
            targets: [target(factor === 1 ? values : `${values} * ${factor}`, legendOf(labels, series), 'A')],
            minZero: false,
          }),
          12,
        ],
      ];
    }
    case 'histogram': {
      const byLe = bucketRates(metric, ['le', ...tags], TARGET_MATCHERS, RATE);
      const quantiles = QUANTILES.map((q, i) =>
        target(
          `histogram_quantile(${q}, ${byLe})`,
          [percentile(q), legendOf(tags, '')].join(' ').trim(),
          refId(i),
        ),
      );
      return [
        [
          timeseries({
            title: `${series} p50 / p90 / p99`,
            description,
            unit: valueDisplay(metric).unit,
            targets: quantiles,
            minZero: metric.unit !== 'unit',
          }),
          12,
        ],
        [
          heatmap(
            `${series} distribution`,
            description,
            valueDisplay(metric).unit,
            bucketRates(metric, ['le'], TARGET_MATCHERS, RATE),
          ),
          12,
        ],
      ];
    }
    case 'summary': {
      const chosen = QUANTILES.filter((q) => metric.quantiles.includes(q));
      const quantileSet = chosen.length > 0 ? chosen : metric.quantiles;
      const quantileExpr = selector(series, [...TARGET_MATCHERS, `quantile=~"${quantileSet.join('|')}"`]);
      const rateOf = (suffix: string) =>
        sumBy(tags, `rate(${selector(`${series}_${suffix}`, TARGET_MATCHERS)}${RATE})`);
      // Quantiles of different processes cannot be combined, so each instance keeps its own line.
      const labels = ['instance', ...tags];
      return [
        [
          timeseries({
            title: `${series} quantiles and mean`,
            description,
            unit: valueDisplay(metric).unit,
            targets: [
              target(quantileExpr, `q{{quantile}} ${legendOf(labels, '')}`, 'A'),
              target(`${rateOf('sum')} / ${rateOf('count')}`, `mean ${legendOf(tags, '')}`.trim(), 'B'),
            ],
            minZero: metric.unit !== 'unit',
          }),
          12,
        ],
      ];
    }
  }
}
