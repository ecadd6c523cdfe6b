/**
 * Type-checks generated dashboards with the TypeScript compiler against `@grafana/schema` (grafana-model.ts).
 *
 * Each dashboard is written into a .ts file as an inline literal with `satisfies`: a JSON import would widen
 * every string (`"list"` to `string`) and lose the excess-property checks that catch a misspelt key. The whole
 * dashboard satisfies `ExportedDashboard`; each panel satisfies its panel type and each annotation the type of
 * its data source, so an error names the panel or annotation it is in.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = join(HERE, '..', '..');

/** One compiler error, with the declaration it is in (`shop`, `shop.panel12`, `shop.annotation2`). */
export interface SchemaError {
  readonly declaration: string;
  readonly message: string;
}

const PANEL_TYPES: Record<string, string> = {
  timeseries: 'TimeSeriesPanel',
  heatmap: 'HeatmapPanel',
  stat: 'StatPanel',
  row: 'GrafanaRowPanel',
};

/** A JS identifier for a declaration name. */
function identifier(name: string): string {
  return name.replace(/[^A-Za-z0-9_]/g, '_');
}

/**
 * The declarations of one dashboard: the dashboard, then each panel (rows' nested panels too) and each
 * annotation, in the order they appear.
 */
function declarationsOf(name: string, dashboard: any): Array<[name: string, literal: unknown, type: string]> {
  const result: Array<[string, unknown, string]> = [[name, dashboard, 'ExportedDashboard']];
  const visit = (panels: any[] | undefined) => {
    for (const panel of panels ?? []) {
      result.push([`${name}.panel${panel.id}`, panel, PANEL_TYPES[panel.type] ?? 'never']);
      visit(panel.panels);
    }
  };
  visit(dashboard.panels);
  (dashboard.annotations?.list ?? []).forEach((annotation: any, index: number) => {
    const type = annotation.datasource?.type === 'prometheus' ? 'PrometheusAnnotation' : 'GrafanaAnnotation';
    result.push([`${name}.annotation${index}`, annotation, type]);
  });
  return result;
}

/**
 * Compiles the given dashboards (name → JSON model) and resolves with every type error, each attributed to
 * its declaration. An empty array means every dashboard, panel and annotation satisfies its type.
 */
export async function typeCheckDashboards(dashboards: Record<string, object>): Promise<SchemaError[]> {
  // Inside node_modules, so that `@grafana/schema` resolves as it does for the project's own code.
  const cache = join(REPO, 'node_modules', '.cache');
  await mkdir(cache, { recursive: true });
  const dir = await mkdtemp(join(cache, 'telemeter-grafana-types-'));
  try {
    const file = join(dir, 'dashboards.ts');
    const model = relative(dir, join(HERE, 'grafana-model.js')).replaceAll('\\', '/');
    const lines = [
      'import type {',
      '  ExportedDashboard, GrafanaAnnotation, GrafanaRowPanel, HeatmapPanel, PrometheusAnnotation, StatPanel,',
      '  TimeSeriesPanel,',
      `} from '${model.startsWith('.') ? model : `./${model}`}';`,
      '',
    ];
    const starts: Array<[line: number, name: string]> = [];
    let line = lines.length;
    for (const [name, dashboard] of Object.entries(dashboards)) {
      for (const [declaration, literal, type] of declarationsOf(name, dashboard)) {
        starts.push([line, declaration]);
        const json = JSON.stringify(literal, null, 2);
        lines.push(`export const ${identifier(declaration)} = ${json} satisfies ${type};\n`);
        line += json.split('\n').length + 1;
      }
    }
    await writeFile(file, lines.join('\n'));
    const program = ts.createProgram([file], {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      skipLibCheck: true,
      types: [],
    });
    const source = program.getSourceFile(file);
    const diagnostics = [
      ...program.getOptionsDiagnostics(),
      ...program.getGlobalDiagnostics(),
      ...program.getSyntacticDiagnostics(source),
      ...program.getSemanticDiagnostics(source),
    ];
    return diagnostics.map((diagnostic) => {
      const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
      if (diagnostic.file === undefined || diagnostic.start === undefined)
        return { declaration: '', message };
      const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
      const declaration = starts.findLast(([start]) => start <= line)?.[1] ?? '';
      const text = diagnostic.file.text.split('\n')[line].trim();
      return { declaration, message: `${message}\n    at: ${text}` };
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
