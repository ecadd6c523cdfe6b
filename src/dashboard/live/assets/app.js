// The live dashboard page. It polls the server's aggregated history (never raw events) once per
// sampling interval, appends what is new, and redraws. Every piece of data (metric names, tag values)
// goes into the page through textContent or element properties, never as HTML.
import { Chart, colorOf } from './chart.js';
import { formatDuration, formatNumber, seriesLabel, unitLabel } from './format.js';
import { Heatmap } from './heatmap.js';

const API = new URL('../api/', import.meta.url);
const QUANTILES = ['p50', 'p90', 'p99'];
const QUANTILE_DASH = { p50: undefined, p90: [6, 3], p99: [2, 3] };

const state = {
  /** @type {any} */
  meta: undefined,
  /** Sample times held, epoch ms. */
  times: [],
  /** Per metric id: the series data accumulated so far. */
  metrics: new Map(),
  /** @type {Map<string, string>} tag name → selected value */
  filter: new Map(),
  /** @type {number | undefined} the newest sample time held */
  since: undefined,
  /** Bumped when the filter changes, so an answer to an older request is ignored. */
  generation: 0,
  tagValues: {},
  cards: new Map(),
  dirty: false,
};

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

async function getJson(url) {
  const response = await fetch(url, { credentials: 'same-origin', cache: 'no-store' });
  if (!response.ok) {
    const error = new Error(`HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return response.json();
}

function showNotice(text) {
  const notice = document.getElementById('notice');
  notice.hidden = text === undefined;
  notice.textContent = text ?? '';
}

// ---- layout -------------------------------------------------------------------------------------

function buildLayout(meta) {
  const main = document.getElementById('groups');
  const groups = new Map();
  for (const metric of meta.metrics) {
    let grid = groups.get(metric.group);
    if (grid === undefined) {
      const section = el('section', 'group');
      section.dataset.group = metric.group;
      section.append(el('h2', undefined, metric.group));
      grid = el('div', 'cards');
      section.append(grid);
      main.append(section);
      groups.set(metric.group, grid);
    }
    grid.append(buildCard(metric));
  }
}

function buildCard(metric) {
  const card = el('article', 'card');
  card.dataset.metric = metric.name;
  card.dataset.view = metric.view;
  const head = el('header', 'card-head');
  head.append(el('h3', 'card-title', metric.name));
  const badges = el('span', 'badges');
  badges.append(el('span', `badge badge-${metric.view}`, metric.type.replace('_', ' ')));
  const unit = unitLabel(metric);
  if (unit !== '') badges.append(el('span', 'badge badge-unit', unit));
  const count = el('span', 'badge badge-series', '');
  badges.append(count);
  head.append(badges);
  card.append(head);
  const about = el('p', 'card-about');
  about.append(
    el('code', 'exported', metric.exportedName),
    document.createTextNode(` ${metric.description}`),
  );
  card.append(about);
  const chartRoot = el('div', 'chart');
  card.append(chartRoot);
  const chart = new Chart(chartRoot, unit);
  let heatmap;
  if (metric.view === 'histogram') {
    const canvas = el('canvas', 'heatmap');
    canvas.setAttribute('role', 'img');
    canvas.setAttribute('aria-label', `Heatmap of ${metric.name}`);
    card.append(canvas);
    heatmap = new Heatmap(canvas, metric.bounds ?? [], unit);
    chart.onDraw = (plot) => heatmap.draw(plot);
  }
  const note = el('p', 'card-note', '');
  card.append(note);
  state.cards.set(metric.id, { metric, card, chart, heatmap, count, note });
  return card;
}

// ---- data ---------------------------------------------------------------------------------------

const nulls = (n) => new Array(n).fill(null);

function emptyLocal(metric) {
  return metric.view === 'histogram'
    ? { p50: [], p90: [], p99: [], heatmap: [], matched: 0, live: 0, hidden: 0 }
    : { series: new Map(), live: 0, hidden: 0 };
}

/** Appends one response to what the page holds, trimming to the history length. */
function merge(data) {
  if (data.full) {
    state.times = [];
    state.metrics.clear();
  }
  const before = state.times.length;
  const added = data.times.length;
  state.times.push(...data.times);
  for (const metric of data.metrics) {
    const info = state.cards.get(metric.id)?.metric;
    if (info === undefined) continue;
    let local = state.metrics.get(metric.id);
    if (local === undefined) {
      local = emptyLocal(info);
      state.metrics.set(metric.id, local);
    }
    local.live = metric.live;
    local.hidden = metric.hidden;
    if (metric.view === 'histogram') {
      for (const q of QUANTILES) local[q].push(...metric[q]);
      local.heatmap.push(...metric.heatmap);
      local.matched = metric.matched;
      continue;
    }
    const columns = metric.view === 'summary' ? QUANTILES : ['values'];
    const seen = new Set();
    for (const series of metric.series) {
      const key = JSON.stringify(series.tags);
      seen.add(key);
      let entry = local.series.get(key);
      if (entry === undefined) {
        entry = { tags: series.tags };
        for (const c of columns) entry[c] = nulls(before);
        local.series.set(key, entry);
      }
      for (const c of columns) entry[c].push(...series[c]);
    }
    for (const [key, entry] of local.series) {
      if (!seen.has(key)) for (const c of columns) entry[c].push(...nulls(added));
    }
  }
  const excess = state.times.length - state.meta.points;
  if (excess > 0) {
    state.times.splice(0, excess);
    for (const local of state.metrics.values()) {
      if (local.series === undefined) {
        for (const q of QUANTILES) local[q].splice(0, excess);
        local.heatmap.splice(0, excess);
        continue;
      }
      for (const [key, entry] of local.series) {
        let any = false;
        for (const c of Object.keys(entry)) {
          if (c === 'tags') continue;
          entry[c].splice(0, excess);
          any ||= entry[c].some((v) => v !== null);
        }
        if (!any) local.series.delete(key);
      }
    }
  }
  if (data.times.length > 0) state.since = data.times[data.times.length - 1];
  state.tagValues = data.tags;
  state.dirty = true;
}

// ---- drawing ------------------------------------------------------------------------------------

function linesOf(metric, local) {
  if (metric.view === 'histogram') {
    return QUANTILES.map((q, i) => ({ label: q, values: local[q], color: colorOf(i), width: 2 }));
  }
  const entries = [...local.series.values()].sort((a, b) =>
    JSON.stringify(a.tags) < JSON.stringify(b.tags) ? -1 : 1,
  );
  if (metric.view === 'summary') {
    return entries.flatMap((entry, i) =>
      QUANTILES.map((q, j) => ({
        label: `${q} ${seriesLabel(metric.tagNames, entry.tags, '')}`.trim(),
        values: entry[q],
        color: entries.length === 1 ? colorOf(j) : colorOf(i),
        dash: entries.length === 1 ? undefined : QUANTILE_DASH[q],
      })),
    );
  }
  const fallback = metric.view === 'rate' ? 'rate' : 'value';
  return entries.map((entry, i) => ({
    label: seriesLabel(metric.tagNames, entry.tags, fallback),
    values: entry.values,
    color: colorOf(i),
  }));
}

function render() {
  if (!state.dirty || document.hidden) return;
  state.dirty = false;
  const seconds = state.times.map((t) => t / 1000);
  // The number of samples held, for anyone checking that a reload kept the history.
  document.body.dataset.points = String(state.times.length);
  for (const { metric, chart, heatmap, count, note } of state.cards.values()) {
    const local = state.metrics.get(metric.id) ?? emptyLocal(metric);
    count.textContent = `${local.live} series`;
    const notes = [];
    if (local.hidden > 0)
      notes.push(
        `${local.hidden} more series not charted (limit ${state.meta.maxSeriesPerMetric} per metric)`,
      );
    if (metric.view === 'histogram') notes.push(`${local.matched} series added up`);
    if (metric.view === 'summary') notes.push('quantiles over the summary\u2019s sliding window');
    note.textContent = notes.join(' · ');
    heatmap?.setData(seconds, local.heatmap ?? []);
    chart.update(seconds, linesOf(metric, local));
  }
  renderStatus();
}

let lastStatus;
let online = true;

function renderStatus() {
  const status = lastStatus;
  if (status === undefined) return;
  const list = document.getElementById('status');
  const items = [
    ['uptime', formatDuration(status.uptime)],
    ['scrapes', status.scrapes === null ? 'n/a' : formatNumber(status.scrapes)],
    ['dropped events', status.dropped === null ? 'n/a' : formatNumber(status.dropped)],
    ['series', formatNumber(status.series)],
    [
      'charted',
      `${formatNumber(status.charted)}${status.hidden > 0 ? ` (+${formatNumber(status.hidden)} hidden)` : ''}`,
    ],
    [
      'history',
      `${formatDuration((state.meta.points * state.meta.interval) / 1000)} at ${formatNumber(state.meta.interval / 1000)} s`,
    ],
  ];
  const nodes = items.map(([name, value]) => {
    const item = el('li', 'stat');
    item.dataset.stat = name;
    item.append(el('span', 'stat-name', name), el('span', 'stat-value', value));
    return item;
  });
  const live = el('li', online ? 'stat live' : 'stat offline');
  live.append(el('span', 'stat-value', online ? 'live' : 'offline'));
  list.replaceChildren(live, ...nodes);
}

// ---- filter -------------------------------------------------------------------------------------

let filterSignature = '';

function renderFilters() {
  const signature = JSON.stringify(state.tagValues);
  if (signature === filterSignature) return;
  filterSignature = signature;
  const nav = document.getElementById('filters');
  const controls = [];
  for (const [name, values] of Object.entries(state.tagValues)) {
    // A tag with one value (a version, a constant) filters nothing.
    if (values.length < 2 && !state.filter.has(name)) continue;
    const label = el('label', 'filter');
    label.append(el('span', 'filter-name', name));
    const select = el('select');
    select.dataset.tag = name;
    const all = el('option', undefined, 'all');
    all.value = '';
    select.append(all);
    const selected = state.filter.get(name);
    const options = selected !== undefined && !values.includes(selected) ? [...values, selected] : values;
    for (const value of options) {
      const option = el('option', undefined, value);
      option.value = value;
      select.append(option);
    }
    select.value = selected ?? '';
    select.addEventListener('change', () => {
      if (select.value === '') state.filter.delete(name);
      else state.filter.set(name, select.value);
      state.since = undefined;
      state.generation++;
      schedule(0);
    });
    label.append(select);
    controls.push(label);
  }
  if (controls.length === 0) controls.push(el('span', 'filter-none', 'No tags to filter by yet.'));
  nav.replaceChildren(el('span', 'filters-title', 'Filter'), ...controls);
}

// ---- polling ------------------------------------------------------------------------------------

let timer;

function schedule(delay) {
  clearTimeout(timer);
  timer = setTimeout(poll, delay);
}

async function poll() {
  const generation = state.generation;
  const url = new URL('data', API);
  if (state.since !== undefined) url.searchParams.set('since', String(state.since));
  for (const [name, value] of state.filter) url.searchParams.set(`tag.${name}`, value);
  try {
    const data = await getJson(url);
    if (generation === state.generation) {
      online = true;
      showNotice(undefined);
      lastStatus = data.status;
      merge(data);
      renderFilters();
      render();
    }
  } catch (error) {
    online = false;
    renderStatus();
    showNotice(
      error.status === 401
        ? 'Not signed in: open this page once as ?token=<bearer token>, or with basic credentials.'
        : `Cannot reach the metrics server (${error.message}); retrying.`,
    );
  }
  schedule(state.meta.interval);
}

async function main() {
  try {
    state.meta = await getJson(new URL('meta', API));
  } catch (error) {
    showNotice(`Cannot load the dashboard layout (${error.message}).`);
    return;
  }
  buildLayout(state.meta);
  new ResizeObserver(() => {
    for (const { chart } of state.cards.values()) chart.resize();
  }).observe(document.getElementById('groups'));
  document.addEventListener('visibilitychange', () => render());
  await poll();
}

main();
