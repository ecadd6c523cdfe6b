import { describe, expect, it } from 'vitest';
import {
  alertRules,
  allExpressions,
  type GrafanaDashboard,
  type GrafanaPanel,
  grafanaDashboard,
  interpolateGrafana,
} from '../../src/dashboard/index.js';
import { httpMetrics } from '../../src/http/index.js';
import { counter, execute, lastValue, setLogger, Telemeter } from '../../src/index.js';
import { runtimeMetrics } from '../../src/runtime/index.js';
import { exercise, metrics as fixtureMetrics } from '../fixtures/telemetry.js';
import { exportedFamilies, sampleNamesOf } from './exported-names.js';
import { selectorsOf } from './promql-selectors.js';

// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };
const builtIn = [...httpMetrics(), ...runtimeMetrics()];
const everything = [...fixtureMetrics, ...builtIn];

function visualPanels(dashboard: GrafanaDashboard): GrafanaPanel[] {
  const flat: GrafanaPanel[] = [];
  const visit = (panels: GrafanaPanel[]) => {
    for (const panel of panels) {
      flat.push(panel);
      visit((panel.panels as GrafanaPanel[] | undefined) ?? []);
    }
  };
  visit(dashboard.panels);
  return flat.filter((p) => p.type !== 'row');
}

function exprsOf(panel: GrafanaPanel): string[] {
  return (panel.targets ?? []).map((t) => t.expr);
}

function namesOf(panel: GrafanaPanel): string[] {
  return exprsOf(panel).flatMap((e) => selectorsOf(e).map((s) => s.name));
}

function variable(dashboard: GrafanaDashboard, name: string): Record<string, any> {
  const found = dashboard.templating.list.find((v) => v.name === name);
  if (found === undefined) throw new Error(`no variable ${name}`);
  return found;
}

describe('grafanaDashboard', () => {
  const dashboard = grafanaDashboard(everything, { title: 'Shop' });
  const panels = visualPanels(dashboard);

  it('uses only current panel types and a recent schema', () => {
    const types = new Set(dashboard.panels.map((p) => p.type));
    expect([...types].sort()).toEqual(['heatmap', 'row', 'stat', 'timeseries']);
    expect(JSON.stringify(dashboard)).not.toMatch(/"type":\s*"graph"/);
    expect(dashboard.schemaVersion).toBe(42);
    expect(panels.filter((p) => p.type === 'stat').length).toBeGreaterThanOrEqual(4);
  });

  it('has a datasource variable that every panel and target uses', () => {
    expect(variable(dashboard, 'datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    for (const panel of panels) {
      expect(panel.datasource, panel.title).toEqual(DATASOURCE);
      for (const target of panel.targets ?? []) {
        expect(target.datasource, panel.title).toEqual(DATASOURCE);
      }
    }
  });

  it('has multi-select job and instance variables with All for the fleet view', () => {
    for (const name of ['job', 'instance']) {
      const v = variable(dashboard, name);
      expect(v).toMatchObject({ type: 'query', includeAll: true, multi: true, allValue: '.*' });
      expect(v.current).toEqual({ selected: true, text: ['All'], value: ['$__all'] });
      expect(v.query.query).toMatch(new RegExp(`^label_values\\(telemeter_series.*, ${name}\\)$`));
    }
    expect(variable(dashboard, 'instance').query.query).toContain('job=~"$job"');
    const preset = grafanaDashboard(fixtureMetrics, { job: 'shop' });
    expect(variable(preset, 'job').current).toEqual({ selected: true, text: ['shop'], value: ['shop'] });
    const bare = grafanaDashboard(fixtureMetrics, { selfMetrics: false });
    expect(variable(bare, 'job').query.query).toBe('label_values(up, job)');
  });

  it('filters every selector of every query by $job and $instance', () => {
    const expressions = allExpressions(dashboard);
    expect(expressions.length).toBeGreaterThan(50);
    for (const { source, expr } of expressions) {
      const selectors = selectorsOf(expr);
      expect(selectors.length, `${source}: ${expr}`).toBeGreaterThan(0);
      for (const s of selectors) {
        expect(s.matchers, `${source}: ${expr}`).toBeDefined();
        expect(s.matchers, `${source}: ${expr}`).toContain('job=~"$job"');
        expect(s.matchers, `${source}: ${expr}`).toContain('instance=~"$instance"');
      }
    }
  });

  it('names only series the definitions export, with the right suffixes', () => {
    const exported = new Set(['up', ...exportedFamilies(everything).flatMap((f) => f.samples)]);
    for (const { source, expr } of allExpressions(dashboard)) {
      for (const s of selectorsOf(expr)) expect(exported.has(s.name), `${source}: ${s.name}`).toBe(true);
    }
  });

  it('matches the series names of a real OpenMetrics scrape of the fixture', () => {
    const telemeter = new Telemeter({ metrics: fixtureMetrics });
    setLogger({ warn: () => {}, error: () => {} });
    try {
      exercise();
      execute('telemeter.scrape.stop', { duration: 1_000_000 }, { status: 200 });
      const scraped = sampleNamesOf(telemeter.scrape({ format: 'openmetrics' }));
      const derived = new Set(exportedFamilies(fixtureMetrics).flatMap((f) => f.samples));
      expect(scraped).toEqual(derived);
      const fixtureDashboard = grafanaDashboard(fixtureMetrics);
      for (const { source, expr } of allExpressions(fixtureDashboard)) {
        for (const s of selectorsOf(expr)) {
          if (s.name !== 'up') expect(scraped.has(s.name), `${source}: ${s.name}`).toBe(true);
        }
      }
      // Text 0.0.4 gives the same names, so the panels read the same series whichever format a scraper takes.
      expect(sampleNamesOf(telemeter.scrape())).toEqual(scraped);
      expect(scraped.has('shop_orders_count_total')).toBe(true);
      expect(scraped.has('shop_orders_count')).toBe(false);
    } finally {
      setLogger(null);
      telemeter.close();
    }
  });

  it('gives every definition and self-metric at least one panel, with the query its type needs', () => {
    for (const family of exportedFamilies(everything)) {
      const own = panels.filter(
        (p) => p.type !== 'stat' && namesOf(p).some((n) => family.samples.includes(n)),
      );
      expect(own.length, family.name).toBeGreaterThan(0);
      const exprs = own.flatMap(exprsOf);
      switch (family.kind) {
        case 'counter':
          expect(
            exprs.some((e) => e.includes(`rate(${family.samples[0]}{`)),
            family.name,
          ).toBe(true);
          break;
        case 'gauge':
          expect(
            exprs.some((e) => e.startsWith(`${family.name}{`)),
            family.name,
          ).toBe(true);
          expect(
            exprs.some((e) => e.includes('rate(')),
            family.name,
          ).toBe(false);
          break;
        case 'histogram': {
          for (const q of ['0.5', '0.9', '0.99']) {
            expect(
              exprs.some((e) => e.startsWith(`histogram_quantile(${q}, sum by (le`)),
              `${family.name} p${q}`,
            ).toBe(true);
          }
          const heat = own.find((p) => p.type === 'heatmap');
          expect(heat, family.name).toBeDefined();
          expect(heat!.targets![0]).toMatchObject({ format: 'heatmap', legendFormat: '{{le}}' });
          expect(heat!.targets![0].expr).toMatch(/^sum by \(le\) \(rate\(\w+_bucket\{/);
          break;
        }
        case 'summary':
          expect(
            exprs.some((e) => e.includes(`${family.name}{`) && e.includes('quantile=~"0.5|0.9|0.99"')),
          ).toBe(true);
          expect(exprs.some((e) => e.includes(`rate(${family.name}_sum{`))).toBe(true);
          // Quantiles of different processes cannot be added up.
          expect(exprs.some((e) => /sum[^(]*\([^)]*quantile/.test(e))).toBe(false);
          break;
      }
    }
  });

  it('puts the overview stats on top: request rate, 5xx ratio, uptime, memory', () => {
    const stats = panels.filter((p) => p.type === 'stat');
    expect(stats.map((p) => p.title)).toEqual([
      'Targets up',
      'Request rate',
      '5xx ratio',
      'Uptime',
      'Resident memory',
    ]);
    for (const stat of stats) expect(stat.gridPos.y).toBe(1);
    expect(stats[2].targets![0].expr).toContain('status=~"5.."');
    // Without HTTP and runtime metrics only the stat that always has data remains.
    const small = visualPanels(grafanaDashboard(fixtureMetrics)).filter((p) => p.type === 'stat');
    expect(small.map((p) => p.title)).toEqual(['Targets up']);
  });

  it('groups panels into rows by prefix', () => {
    const rows = dashboard.panels.filter((p) => p.type === 'row').map((p) => p.title);
    expect(rows).toEqual(['Overview', 'HTTP', 'shop', 'db', 'jobs', 'Node.js runtime', 'telemeter']);
    const expected: Record<string, RegExp> = {
      HTTP: /^http_/,
      shop: /^shop_/,
      db: /^db_/,
      jobs: /^jobs_/,
      'Node.js runtime': /^(vm|process|nodejs)_/,
      telemeter: /^telemeter_/,
    };
    let row = '';
    for (const panel of dashboard.panels) {
      if (panel.type === 'row') {
        row = panel.title;
        continue;
      }
      if (row === 'Overview') continue;
      for (const name of namesOf(panel)) expect(name, `${panel.title} in row ${row}`).toMatch(expected[row]);
    }
    expect(grafanaDashboard(fixtureMetrics, { selfMetrics: false }).panels.map((p) => p.title)).not.toContain(
      'telemeter',
    );
  });

  it('is deterministic, with a stable uid, unique ids and non-overlapping positions', () => {
    expect(JSON.stringify(grafanaDashboard(everything, { title: 'Shop' }))).toBe(JSON.stringify(dashboard));
    expect(dashboard.uid).toMatch(/^[A-Za-z0-9_-]{1,40}$/);
    expect(grafanaDashboard(fixtureMetrics, { title: 'Shop' }).uid).toBe(dashboard.uid);
    expect(grafanaDashboard(everything, { title: 'Shop 2' }).uid).not.toBe(dashboard.uid);
    expect(grafanaDashboard(everything, { uid: 'my-uid' }).uid).toBe('my-uid');
    expect(dashboard.panels.map((p) => p.id)).toEqual(dashboard.panels.map((_, i) => i + 1));
    const boxes = dashboard.panels.map((p) => p.gridPos);
    for (const [i, a] of boxes.entries()) {
      expect(a.x + a.w).toBeLessThanOrEqual(24);
      for (const b of boxes.slice(i + 1)) {
        const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
        expect(overlap, `${JSON.stringify(a)} ${JSON.stringify(b)}`).toBe(false);
      }
    }
  });

  it('rejects bad options and entries, naming them', () => {
    expect(() => grafanaDashboard(fixtureMetrics, { colour: 'red' } as never)).toThrow(
      /option colour is unknown/,
    );
    expect(() => grafanaDashboard(fixtureMetrics, { uid: 'a b' })).toThrow(/option uid/);
    expect(() => grafanaDashboard(fixtureMetrics, { title: '' })).toThrow(/option title/);
    expect(() => grafanaDashboard([fixtureMetrics[0], 42 as never])).toThrow(/definitions\[1\]/);
    expect(() =>
      grafanaDashboard([
        counter('a.b_total', { eventName: 'a' }),
        lastValue('a_b_total', { eventName: 'a' }),
      ]),
    ).toThrow(/a_b_total/);
  });
});

describe('allExpressions and interpolateGrafana', () => {
  it('lists every target, annotation and rule expression with its source', () => {
    const dashboard = grafanaDashboard(everything);
    const targets = visualPanels(dashboard).flatMap((p) => p.targets ?? []).length;
    const rules = alertRules(everything);
    const listed = allExpressions(dashboard, rules);
    const fromRules = listed.filter((e) => e.source.startsWith('rule '));
    expect(listed.filter((e) => e.source.startsWith('panel ')).length).toBe(targets);
    expect(listed.filter((e) => e.source.startsWith('annotation ')).map((e) => e.source)).toEqual([
      'annotation "Restarts"',
    ]);
    expect(fromRules.length).toBe(rules.split('\n').filter((l) => l.trim().startsWith('expr:')).length);
    expect(fromRules[0]).toEqual({ source: 'rule TargetDown', expr: 'up == 0' });
    expect(fromRules.some((e) => e.expr.includes('status=~"5.."'))).toBe(true);
  });

  it('replaces the Grafana variables so Prometheus can run the query', () => {
    const expr = `sum(rate(x{job=~"$job",instance=~"$\{instance}"}[$__rate_interval])) + changes(y[$__interval])`;
    expect(interpolateGrafana(expr)).toBe('sum(rate(x{job=~".*",instance=~".*"}[1m])) + changes(y[15s])');
    expect(interpolateGrafana(expr, { job: 'shop', rateInterval: '2m' })).toContain('job=~"shop"');
  });
});
