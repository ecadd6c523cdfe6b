// A distribution's heatmap: one column per interval, one row per bucket (the top row is +Inf), the
// colour of a cell the number of observations that fell in it. Drawn on a canvas of its own, under the
// quantile chart and aligned with its time axis.
import { formatNumber } from './format.js';

const HEIGHT = 150;
const LOW = [241, 245, 249];
const HIGH = [153, 27, 27];
const MID = [249, 115, 22];

/** Colour of a cell holding `t` (0..1) of the busiest cell's count. */
function ramp(t) {
  const [from, to, u] = t < 0.5 ? [LOW, MID, t * 2] : [MID, HIGH, (t - 0.5) * 2];
  return from.map((c, i) => Math.round(c + (to[i] - c) * u));
}

export class Heatmap {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {readonly number[]} bounds finite bucket bounds
   * @param {string} unit
   */
  constructor(canvas, bounds, unit) {
    this.canvas = canvas;
    this.bounds = bounds;
    this.unit = unit;
    this.rows = bounds.length + 1;
    this.seconds = [];
    this.counts = [];
    this.max = 0;
  }

  /**
   * @param {number[]} seconds x values of the columns (end of each interval, epoch seconds)
   * @param {number[][]} counts observations per bucket, `[column][bucket]`
   */
  setData(seconds, counts) {
    this.seconds = seconds;
    this.counts = counts;
  }

  /**
   * Draws the cells under the plot area of `plot` (a uPlot instance), so columns line up with its times.
   * @param {import('./uPlot.esm.js').default} plot
   */
  draw(plot) {
    const ratio = window.devicePixelRatio || 1;
    const width = plot.width;
    const canvas = this.canvas;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(HEIGHT * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(HEIGHT * ratio);
      canvas.style.width = `${width}px`;
      canvas.style.height = `${HEIGHT}px`;
    }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, HEIGHT);
    const left = plot.bbox.left / ratio;
    const plotWidth = plot.bbox.width / ratio;
    const top = 4;
    const bottom = HEIGHT - 18;
    const rowHeight = (bottom - top) / this.rows;
    ctx.fillStyle = `rgb(${LOW.join(',')})`;
    ctx.fillRect(left, top, plotWidth, bottom - top);

    const { seconds, counts } = this;
    const n = seconds.length;
    let max = 0;
    for (const column of counts) for (const c of column) if (c > max) max = c;
    this.max = max;
    if (n > 0 && max > 0) {
      // One pixel per cell in an offscreen image, scaled onto the plot area in one draw.
      const image = new ImageData(n, this.rows);
      const scale = Math.log1p(max);
      for (let x = 0; x < n; x++) {
        const column = counts[x];
        for (let b = 0; b < this.rows; b++) {
          const c = column[b];
          const offset = ((this.rows - 1 - b) * n + x) * 4;
          const [r, g, bl] = c > 0 ? ramp(Math.log1p(c) / scale) : LOW;
          image.data[offset] = r;
          image.data[offset + 1] = g;
          image.data[offset + 2] = bl;
          image.data[offset + 3] = 255;
        }
      }
      const cells = document.createElement('canvas');
      cells.width = n;
      cells.height = this.rows;
      cells.getContext('2d').putImageData(image, 0, 0);
      const step = n > 1 ? seconds[n - 1] - seconds[n - 2] : 1;
      const x0 = plot.valToPos(seconds[0] - step, 'x') + left;
      const x1 = plot.valToPos(seconds[n - 1], 'x') + left;
      ctx.save();
      ctx.beginPath();
      ctx.rect(left, top, plotWidth, bottom - top);
      ctx.clip();
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(cells, x0, top, Math.max(1, x1 - x0), bottom - top);
      ctx.restore();
    }

    // Bucket labels on the left, as many as fit.
    ctx.fillStyle = '#6b7280';
    ctx.font = '10px system-ui, sans-serif';
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    const every = Math.max(1, Math.ceil(12 / rowHeight));
    for (let b = 0; b < this.rows; b += every) {
      const y = bottom - (b + 0.5) * rowHeight;
      const label = b < this.bounds.length ? `≤${formatNumber(this.bounds[b])}` : '+Inf';
      ctx.fillText(label, left - 6, y);
    }
    ctx.textAlign = 'left';
    ctx.textBaseline = 'alphabetic';
    const suffix = this.unit === '' ? '' : ` ${this.unit}`;
    ctx.fillText(
      `buckets${suffix}; darkest cell = ${formatNumber(max)} observations per interval`,
      left,
      HEIGHT - 4,
    );
  }
}
