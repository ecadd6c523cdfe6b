/**
 * The types a generated dashboard must satisfy: `@grafana/schema`'s own, made to read JSON, plus the few
 * shapes of Grafana's that the package does not publish (each named with the Grafana source it follows).
 * grafana-typecheck.ts checks generated dashboards against them as inline literals with `satisfies`.
 */
import type {
  AnnotationQuery,
  AnnotationTarget,
  Dashboard,
  DataQuery,
  FieldConfig,
  FieldConfigSource,
  Panel,
  RowPanel,
} from '@grafana/schema';
import type * as Heatmap from '@grafana/schema/dist/esm/raw/composable/heatmap/panelcfg/x/HeatmapPanelCfg_types.gen';
import type * as Stat from '@grafana/schema/dist/esm/raw/composable/stat/panelcfg/x/StatPanelCfg_types.gen';
import type * as TimeSeries from '@grafana/schema/dist/esm/raw/composable/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen';

/**
 * `T` as JSON holds it. The schema types its options with TypeScript string enums (`LegendDisplayMode.List`),
 * to which no string literal is assignable; JSON holds the enum's value (`"list"`), so each string enum becomes
 * the union of its values. Everything else, excess-property checks included, stays as the schema says.
 */
export type Json<T> = T extends string
  ? `${T}`
  : T extends ReadonlyArray<infer U>
    ? Array<Json<U>>
    : T extends object
      ? { [K in keyof T]: Json<T[K]> }
      : T;

/**
 * A Prometheus query: grafana/grafana `packages/grafana-prometheus/src/dataquery.gen.ts` (the `Prometheus`
 * interface) and the `interval` that its `types.ts` adds (an annotation's step).
 */
export interface PromQuery extends DataQuery {
  editorMode?: 'builder' | 'code';
  exemplar?: boolean;
  expr: string;
  format?: 'time_series' | 'table' | 'heatmap';
  instant?: boolean;
  interval?: string;
  legendFormat?: string;
  range?: boolean;
}

/**
 * An annotation of the Prometheus data source: the query in `target`, and the options its `processEvents`
 * reads from the annotation itself (grafana/grafana `packages/grafana-prometheus/src/annotations.ts`).
 */
export type PrometheusAnnotation = Json<
  AnnotationQuery<PromQuery> & {
    tagKeys?: string;
    textFormat?: string;
    titleFormat?: string;
    useValueForTime?: boolean;
  }
>;

/** An annotation of Grafana's own data source: built-in, or by tags. */
export type GrafanaAnnotation = Json<AnnotationQuery<DataQuery & AnnotationTarget>>;

/** A panel of one type, its options and custom field config as that panel's schema says. */
type PanelOf<TType extends string, TOptions, TCustom> = Omit<
  Panel,
  'type' | 'options' | 'fieldConfig' | 'targets'
> & {
  type: TType;
  options: TOptions;
  fieldConfig: {
    defaults: Omit<FieldConfig, 'custom'> & { custom?: TCustom };
    overrides: FieldConfigSource['overrides'];
  };
  targets: PromQuery[];
};

export type TimeSeriesPanel = Json<PanelOf<'timeseries', TimeSeries.Options, TimeSeries.FieldConfig>>;
export type HeatmapPanel = Json<PanelOf<'heatmap', Heatmap.Options, Heatmap.FieldConfig>>;
/** The stat panel has no custom field config. */
export type StatPanel = Json<PanelOf<'stat', Stat.Options, Record<string, never>>>;
export type GrafanaRowPanel = Json<RowPanel>;

/** An input of Grafana's export format (what `DashboardExporter` writes and the import page asks for). */
export interface ImportInput {
  name: string;
  label: string;
  description: string;
  type: 'datasource' | 'constant';
  pluginId: string;
  pluginName: string;
}

/** A requirement of Grafana's export format. */
export interface ImportRequirement {
  type: 'grafana' | 'datasource' | 'panel';
  id: string;
  name: string;
  version: string;
}

/**
 * A whole exported dashboard: `Dashboard`, with `__inputs` and `__requires`. Annotations are typed by
 * their data source (the schema's `AnnotationQuery` leaves a data source's own options out); panels are
 * the schema's `Panel | RowPanel` here and are checked one by one against their panel type.
 */
export type ExportedDashboard = Json<Omit<Dashboard, 'annotations'>> & {
  __inputs: ImportInput[];
  __requires: ImportRequirement[];
  annotations: { list: Array<PrometheusAnnotation | GrafanaAnnotation> };
};
