import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { TelemeterError } from '../../errors.js';

/** A static file of the page, read once and kept in memory. */
export interface Asset {
  readonly body: Buffer;
  readonly contentType: string;
  readonly etag: string;
}

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';

/** The page's own modules and styles, served under `<path>/assets/`, from `src/dashboard/live/assets/`. */
const OWN_ASSETS: Readonly<Record<string, string>> = {
  'app.js': JS,
  'chart.js': JS,
  'heatmap.js': JS,
  'format.js': JS,
  'dashboard.css': CSS,
};

/** Where the page's files are. tsc copies no .js or .css into dist/, and the package ships src/ too. */
function ownAssetDirectory(): string {
  const candidates = [
    new URL('./assets/', import.meta.url),
    new URL('../../../src/dashboard/live/assets/', import.meta.url),
  ];
  for (const candidate of candidates) {
    const directory = fileURLToPath(candidate);
    if (existsSync(`${directory}app.js`)) return directory;
  }
  throw new TelemeterError(
    'ERR_TELEMETER_MISSING_DEPENDENCY',
    'telemeter/dashboard: the dashboard page files (src/dashboard/live/assets) are missing; reinstall telemeter',
  );
}

/** uPlot's ES module and stylesheet, resolved in node_modules. */
function uplotFiles(): Record<string, string> {
  const require = createRequire(import.meta.url);
  try {
    return {
      'uPlot.esm.js': require.resolve('uplot/dist/uPlot.esm.js'),
      'uPlot.min.css': require.resolve('uplot/dist/uPlot.min.css'),
    };
  } catch (error) {
    throw new TelemeterError(
      'ERR_TELEMETER_MISSING_DEPENDENCY',
      'telemeter/dashboard: the live dashboard draws its charts with uPlot; install it with `npm install uplot`',
      { cause: error },
    );
  }
}

function load(file: string, contentType: string): Asset {
  const body = readFileSync(file);
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
  return { body, contentType, etag };
}

/**
 * Every file the page loads, by name. Files are located now (so a missing uPlot fails at start-up, with
 * the command that fixes it) and read on first use.
 */
export function dashboardAssets(): (name: string) => Asset | undefined {
  const directory = ownAssetDirectory();
  const files = new Map<string, { file: string; contentType: string }>();
  for (const [name, contentType] of Object.entries(OWN_ASSETS)) {
    files.set(name, { file: `${directory}${name}`, contentType });
  }
  for (const [name, file] of Object.entries(uplotFiles())) {
    files.set(name, { file, contentType: name.endsWith('.css') ? CSS : JS });
  }
  const loaded = new Map<string, Asset>();
  return (name) => {
    let asset = loaded.get(name);
    if (asset === undefined) {
      const entry = files.get(name);
      if (entry === undefined) return undefined;
      asset = load(entry.file, entry.contentType);
      loaded.set(name, asset);
    }
    return asset;
  };
}
