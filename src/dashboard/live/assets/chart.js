// A time-series chart: one uPlot instance, rebuilt when its set of lines changes, whose legend shows
// the latest value of each line while the pointer is elsewhere.

import { formatNumber } from './format.js';
import uPlot from './uPlot.esm.js';

const PALETTE = [
  '#2563eb',
  '#dc2626',
  '#16a34a',
  '#d97706',
  '#7c3aed',
  '#0891b2',
  '#db2777',
  '#65a30d',
  '#9333ea',
  '#ea580c',
  '#0d9488',
  '#4f46e5',
];

/** Colour of the `i`-th line. */
export function colorOf(i) {
  return PALETTE[i % PALETTE.length];
}

const HEIGHT = 190;

/** A y range that includes 0, so the height of a line reads as its size (a rate of 5 is not drawn as 500). */
function zeroBased(_plot, min, max) {
  if (min === null || max === null || !Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  const low = Math.min(0, min);
  const high = Math.max(0, max);
  return low === high ? [0, 1] : uPlot.rangeNum(low, high, 0.1, true);
}

/** Indices of values with no value on either side: a line cannot show them, so they get a dot. */
function isolatedPoints(plot, seriesIndex) {
  const values = plot.data[seriesIndex];
  const indices = [];
  for (let i = 0; i < values.length; i++) {
    if (values[i] !== null && (values[i - 1] ?? null) === null && (values[i + 1] ?? null) === null) {
      indices.push(i);
    }
  }
  return indices.length > 0 ? indices : null;
}

/**
 * @typedef {{ label: string, values: (number | null)[], color: string, dash?: number[], width?: number }} Line
 */

export class Chart {
  /**
   * @param {HTMLElement} root element the chart is drawn into
   * @param {string} unit shown on the y axis
   */
  constructor(root, unit) {
    this.root = root;
    this.unit = unit;
    /** @type {uPlot | undefined} */
    this.plot = undefined;
    this.signature = '';
    this.lastIndices = [];
    /** Called after every redraw, with the uPlot instance (the heatmap aligns with its plot area). */
    this.onDraw = undefined;
  }

  /** Width available to the chart, in CSS pixels. */
  width() {
    return Math.max(240, Math.floor(this.root.clientWidth));
  }

  /**
   * Shows `lines` over `seconds` (x values, epoch seconds).
   * @param {number[]} seconds
   * @param {Line[]} lines
   */
  update(seconds, lines) {
    const signature = JSON.stringify(lines.map((l) => [l.label, l.color, l.dash ?? null]));
    const data = [seconds, ...lines.map((l) => l.values)];
    // The legend idles on each line's latest value, not on uPlot's "--".
    this.lastIndices = [
      seconds.length - 1,
      ...lines.map((l) => {
        for (let i = l.values.length - 1; i >= 0; i--) if (l.values[i] !== null) return i;
        return null;
      }),
    ];
    if (this.plot === undefined || signature !== this.signature) {
      this.plot?.destroy();
      this.signature = signature;
      this.plot = this.create(lines, data);
    } else {
      this.plot.setData(data);
    }
    this.idleLegend();
  }

  /** @private */
  create(lines, data) {
    const unit = this.unit;
    const value = (_u, v) => (v === null || v === undefined ? '--' : formatNumber(v));
    const options = {
      width: this.width(),
      height: HEIGHT,
      scales: { x: { time: true }, y: { range: zeroBased } },
      legend: { live: true },
      cursor: { drag: { x: false, y: false }, points: { size: 6 } },
      series: [
        { label: 'time' },
        ...lines.map((line) => ({
          label: line.label,
          stroke: line.color,
          width: line.width ?? 1.5,
          dash: line.dash,
          spanGaps: false,
          points: { show: false, size: 5, filter: isolatedPoints },
          value,
        })),
      ],
      axes: [
        { stroke: '#6b7280', grid: { stroke: '#eef0f3' }, ticks: { stroke: '#e5e7eb' } },
        {
          stroke: '#6b7280',
          size: 64,
          label: unit === '' ? undefined : unit,
          labelSize: 18,
          values: (_u, ticks) => ticks.map((t) => formatNumber(t)),
          grid: { stroke: '#eef0f3' },
          ticks: { stroke: '#e5e7eb' },
        },
      ],
      hooks: {
        setCursor: [() => this.idleLegend()],
        draw: [(u) => this.onDraw?.(u)],
      },
    };
    return new uPlot(options, data, this.root);
  }

  /** While the pointer is off the chart, the legend shows the newest value of each line. */
  idleLegend() {
    const plot = this.plot;
    if (plot === undefined || plot.cursor.idx !== null) return;
    plot.setLegend({ idxs: this.lastIndices }, false);
  }

  /** Follows the width of the root element. */
  resize() {
    if (this.plot !== undefined && this.plot.width !== this.width()) {
      this.plot.setSize({ width: this.width(), height: HEIGHT });
    }
  }
}
