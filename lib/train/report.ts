/**
 * The HTML report of a training run: line charts of the per-epoch metrics, drawn as inline SVG by
 * this file, the numbers in a table, and the run's configuration. The page loads nothing (no
 * script, font, stylesheet or image from elsewhere), so it opens offline, from an archive or as
 * an attachment, exactly as it was written. Every string from the caller is HTML-escaped.
 */
import { writeFileAtomic } from '../io/atomic';
import { fail, integer } from '../validate';

/** One epoch's numbers, as the trainer has them after validation. */
export interface EpochMetrics {
  /** Epoch number, counting from 1. */
  epoch: number;
  /** Mean training cross-entropy over the epoch's batches. */
  trainLoss: number;
  /** Fraction, in [0, 1], of training images whose top-1 prediction was right. */
  trainAccuracy: number;
  /** Fraction, in [0, 1], of validation images whose top-1 prediction was right. */
  valAccuracy: number;
  /** Fraction, in [0, 1], of validation images whose label is among the top 5 predictions. */
  valTop5?: number;
  /** Learning rate at the end of the epoch. */
  lr: number;
  /** The learning rate of each step of the epoch, when it changes from step to step (warmup, cosine). */
  stepLr?: number[];
  /** Training throughput over the epoch. */
  imagesPerSecond: number;
  /** Wall-clock time of the epoch, training and validation together. */
  seconds: number;
}

/** What the report says about the run besides its metrics. */
export interface ReportInfo {
  /** The page's title, e.g. the run's name. */
  title: string;
  /** The run's configuration, shown as a table of keys and values. */
  config: Record<string, unknown>;
}

const numericFields = [
  'trainLoss',
  'trainAccuracy',
  'valAccuracy',
  'lr',
  'imagesPerSecond',
  'seconds',
] as const;

/** The first four colours of matplotlib's default colour cycle ("tab10"). */
const palette = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728'];

const chart = { width: 640, height: 280, left: 64, right: 16, top: 32, bottom: 40 };

interface Series {
  label: string;
  values: readonly number[];
}

interface ChartSpec {
  title: string;
  series: Series[];
  /** Log scale suits the learning rate, which falls by factors of 10. */
  scale: 'linear' | 'log';
  /** Accuracies are fractions, shown as percentages. */
  percent: boolean;
  /** Formats a point's value for its tooltip, as the table does. */
  format: (value: number) => string;
  /** Where each value sits on the epoch axis, when not at the epochs' ends (a per-step curve). */
  xs?: readonly number[];
}

/** Renders the report as a complete HTML page. NaN and infinite values leave gaps in the curves. */
export function renderReport(history: readonly EpochMetrics[], info: ReportInfo): string {
  checkHistory(history);
  if (typeof info !== 'object' || info === null) fail('{ title, config }', 'info', info);
  if (typeof info.title !== 'string') fail('string', 'info.title', info.title);
  if (typeof info.config !== 'object' || info.config === null) {
    fail('object', 'info.config', info.config);
  }
  const epochs = history.map((m) => m.epoch);
  const hasTop5 = history.some((m) => m.valTop5 !== undefined);
  const charts: ChartSpec[] = [
    {
      title: 'Training loss',
      series: [{ label: 'train loss', values: history.map((m) => m.trainLoss) }],
      scale: 'linear',
      percent: false,
      format: (v) => formatFixed(v, 4),
    },
    {
      title: 'Accuracy',
      series: [
        { label: 'train top-1', values: history.map((m) => m.trainAccuracy) },
        { label: 'validation top-1', values: history.map((m) => m.valAccuracy) },
        ...(hasTop5
          ? [{ label: 'validation top-5', values: history.map((m) => m.valTop5 ?? Number.NaN) }]
          : []),
      ],
      scale: 'linear',
      percent: true,
      format: formatPercent,
    },
    learningRateChart(history),
    {
      title: 'Throughput',
      series: [{ label: 'images/s', values: history.map((m) => m.imagesPerSecond) }],
      scale: 'linear',
      percent: false,
      format: (v) => formatFixed(v, 1),
    },
  ];
  const title = escapeHtml(info.title);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1340px; padding: 0 1em; color: #222; }
.charts { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; flex: 1 1 600px; max-width: 660px; }
figcaption { font-weight: 600; margin-bottom: 0.25em; }
svg { width: 100%; height: auto; font-size: 12px; }
table { border-collapse: collapse; margin: 0.5em 0 2em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25em 0.75em; text-align: right; }
th { background: #f4f4f4; }
.config td, .config th { text-align: left; }
.config td { font-family: ui-monospace, monospace; white-space: pre-wrap; }
</style>
</head>
<body>
<h1>${title}</h1>
${renderSummary(history)}
<div class="charts">
${charts.map((spec) => renderChart(spec.xs ?? epochs, spec)).join('\n')}
</div>
<h2>Per-epoch metrics</h2>
${renderMetricsTable(history, hasTop5)}
<h2>Configuration</h2>
${renderConfigTable(info.config)}
</body>
</html>
`;
}

/**
 * The learning rate at each epoch's end, or of every step where the epochs record it: step i of
 * k in epoch e sits at e - 1 + (i + 1) / k.
 */
function learningRateChart(history: readonly EpochMetrics[]): ChartSpec {
  const xs: number[] = [];
  const values: number[] = [];
  for (const m of history) {
    const steps = m.stepLr ?? [m.lr];
    steps.forEach((lr, i) => {
      xs.push(m.epoch - 1 + (i + 1) / steps.length);
      values.push(lr);
    });
  }
  return {
    title: 'Learning rate',
    series: [{ label: 'learning rate', values }],
    scale: values.every((lr) => !(lr <= 0)) ? 'log' : 'linear',
    percent: false,
    format: formatNumber,
    xs,
  };
}

/** Writes the report to `file` atomically (temporary file, fsync, rename). */
export async function writeReport(
  file: string,
  history: readonly EpochMetrics[],
  info: ReportInfo,
): Promise<void> {
  if (typeof file !== 'string' || file === '') fail('non-empty string', 'file', file);
  await writeFileAtomic(file, [renderReport(history, info)]);
}

function checkHistory(history: unknown): asserts history is readonly EpochMetrics[] {
  if (!Array.isArray(history)) fail('array of EpochMetrics', 'history', history);
  history.forEach((metrics: unknown, i) => {
    if (typeof metrics !== 'object' || metrics === null) {
      fail('EpochMetrics', `history[${i}]`, metrics);
    }
    const fields = metrics as Record<string, unknown>;
    integer(`history[${i}].epoch`, fields.epoch, 0);
    for (const key of numericFields) {
      if (typeof fields[key] !== 'number') fail('number', `history[${i}].${key}`, fields[key]);
    }
    if (fields.valTop5 !== undefined && typeof fields.valTop5 !== 'number') {
      fail('number or undefined', `history[${i}].valTop5`, fields.valTop5);
    }
  });
}

function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Three significant digits, without trailing zeros: 0.01, 2.31, 1234, 1e-7. */
function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  return String(Number(value.toPrecision(3)));
}

function formatPercent(value: number): string {
  return Number.isFinite(value) ? `${Number((value * 100).toPrecision(4))}%` : String(value);
}

function formatFixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : String(value);
}

function formatDuration(seconds: number): string {
  const whole = Math.round(seconds);
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = whole % 60;
  return h > 0 ? `${h} h ${m} min` : m > 0 ? `${m} min ${s} s` : `${s} s`;
}

function renderSummary(history: readonly EpochMetrics[]): string {
  if (history.length === 0) return '<p>No epochs have finished yet.</p>';
  const seconds = history.reduce((sum, m) => sum + (Number.isFinite(m.seconds) ? m.seconds : 0), 0);
  const best = history.reduce<EpochMetrics | undefined>(
    (top, m) =>
      Number.isFinite(m.valAccuracy) && (top === undefined || m.valAccuracy > top.valAccuracy)
        ? m
        : top,
    undefined,
  );
  const last = history[history.length - 1];
  const parts = [
    `${history.length} epoch${history.length === 1 ? '' : 's'} in ${formatDuration(seconds)}`,
    best === undefined
      ? 'no finite validation accuracy'
      : `best validation top-1 ${formatPercent(best.valAccuracy)} at epoch ${best.epoch}`,
    `last training loss ${formatFixed(last.trainLoss, 4)}`,
  ];
  return `<p>${parts.join('; ')}.</p>`;
}

function renderMetricsTable(history: readonly EpochMetrics[], hasTop5: boolean): string {
  const head = [
    'Epoch',
    'Train loss',
    'Train top-1',
    'Val top-1',
    ...(hasTop5 ? ['Val top-5'] : []),
    'Learning rate',
    'Images/s',
    'Seconds',
  ];
  const rows = history.map((m) => {
    const cells = [
      String(m.epoch),
      formatFixed(m.trainLoss, 4),
      formatPercent(m.trainAccuracy),
      formatPercent(m.valAccuracy),
      ...(hasTop5 ? [m.valTop5 === undefined ? '–' : formatPercent(m.valTop5)] : []),
      formatNumber(m.lr),
      formatFixed(m.imagesPerSecond, 1),
      formatFixed(m.seconds, 1),
    ];
    return `<tr>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`;
  });
  return `<table class="metrics">
<thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>`;
}

function renderConfigTable(config: Record<string, unknown>): string {
  const rows = Object.entries(config).map(
    ([key, value]) =>
      `<tr><th>${escapeHtml(key)}</th><td>${escapeHtml(formatConfigValue(value))}</td></tr>`,
  );
  return `<table class="config">
<tbody>
${rows.join('\n')}
</tbody>
</table>`;
}

function formatConfigValue(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    // BigInts and cyclic objects have no JSON form.
    return String(value);
  }
}

/** Ticks at 1, 2 or 5 times a power of ten, about `count` of them across [lo, hi]. */
function niceStep(lo: number, hi: number, count: number): number {
  const raw = (hi - lo) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const normalized = raw / magnitude;
  return (normalized < 1.5 ? 1 : normalized < 3 ? 2 : normalized < 7 ? 5 : 10) * magnitude;
}

interface Axis {
  /** The domain, in log10 units on a log scale. */
  lo: number;
  hi: number;
  ticks: { value: number; label: string }[];
}

/** The y axis: whole decades on a log scale, 1-2-5 steps on a linear one. */
function yAxis(values: number[], spec: ChartSpec): Axis {
  if (spec.scale === 'log') {
    const lo = values.length ? Math.floor(Math.log10(Math.min(...values))) : 0;
    const top = values.length ? Math.ceil(Math.log10(Math.max(...values))) : 1;
    const hi = top > lo ? top : lo + 1;
    const ticks = Array.from({ length: hi - lo + 1 }, (_, i) => {
      const value = 10 ** (lo + i);
      return { value, label: formatNumber(value) };
    });
    return { lo, hi, ticks };
  }
  let lo = values.length ? Math.min(...values) : 0;
  let hi = values.length ? Math.max(...values) : 1;
  if (lo === hi) {
    const pad = Math.abs(lo) * 0.1 || 1;
    lo -= pad;
    hi += pad;
  }
  const step = niceStep(lo, hi, 5);
  const first = Math.floor(lo / step);
  const last = Math.ceil(hi / step);
  // As many decimals as the step needs, so neighbouring ticks never print the same.
  const scale = spec.percent ? 100 : 1;
  const digits = Math.max(0, -Math.floor(Math.log10(step * scale)));
  const ticks = Array.from({ length: last - first + 1 }, (_, i) => {
    const value = (first + i) * step;
    return { value, label: `${(value * scale).toFixed(digits)}${spec.percent ? '%' : ''}` };
  });
  return { lo: ticks[0].value, hi: ticks[ticks.length - 1].value, ticks };
}

/** Where values land on a chart: px for an epoch, py for a value, and the y axis's ticks. */
interface ChartScale {
  px(epoch: number): number;
  py(value: number): number;
  yTicks: { value: number; label: string }[];
  xTicks: number[];
  drawable(value: number): boolean;
}

function chartScale(epochs: readonly number[], spec: ChartSpec): ChartScale {
  const { width, height, left, right, top, bottom } = chart;
  const plotWidth = width - left - right;
  const plotHeight = height - top - bottom;
  const log = spec.scale === 'log';
  const drawable = (v: number) => Number.isFinite(v) && (!log || v > 0);
  const y = yAxis(
    spec.series.flatMap((s) => s.values.filter(drawable)),
    spec,
  );
  // One epoch still gets a width: it sits in the middle of [epoch - 1, epoch + 1].
  const firstEpoch = epochs.length ? epochs.reduce((a, b) => Math.min(a, b)) : 0;
  const lastEpoch = epochs.length ? epochs.reduce((a, b) => Math.max(a, b)) : 1;
  const x0 = firstEpoch < lastEpoch ? firstEpoch : firstEpoch - 1;
  const x1 = firstEpoch < lastEpoch ? lastEpoch : firstEpoch + 1;
  const xStep = Math.max(1, niceStep(x0, x1, 8));
  const xTicks: number[] = [];
  for (let e = Math.ceil(x0 / xStep) * xStep; e <= x1; e += xStep) xTicks.push(e);
  return {
    px: (epoch) => left + ((epoch - x0) / (x1 - x0)) * plotWidth,
    py: (v) => top + plotHeight - (((log ? Math.log10(v) : v) - y.lo) / (y.hi - y.lo)) * plotHeight,
    yTicks: y.ticks,
    xTicks,
    drawable,
  };
}

/** The grid lines, tick labels and axes. */
function chartAxes(scale: ChartScale): string[] {
  const { width, height, left, right, top, bottom } = chart;
  const base = height - bottom;
  const parts: string[] = [];
  for (const tick of scale.yTicks) {
    const at = scale.py(tick.value).toFixed(1);
    parts.push(
      `<line x1="${left}" y1="${at}" x2="${width - right}" y2="${at}" stroke="#e5e5e5"/>`,
      `<text x="${left - 6}" y="${at}" text-anchor="end" dominant-baseline="middle">${tick.label}</text>`,
    );
  }
  for (const tick of scale.xTicks) {
    const at = scale.px(tick).toFixed(1);
    parts.push(
      `<line x1="${at}" y1="${base}" x2="${at}" y2="${base + 4}" stroke="#888"/>`,
      `<text x="${at}" y="${base + 16}" text-anchor="middle">${tick}</text>`,
    );
  }
  parts.push(
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${base}" stroke="#888"/>`,
    `<line x1="${left}" y1="${base}" x2="${width - right}" y2="${base}" stroke="#888"/>`,
    `<text x="${left + (width - left - right) / 2}" y="${height - 6}" text-anchor="middle">epoch</text>`,
  );
  return parts;
}

/** One series: its legend entry at `legendX`, its line (broken where a value cannot be drawn) and its points. */
function chartSeries(
  series: ChartSpec['series'][number],
  color: string,
  legendX: number,
  label: string,
  epochs: readonly number[],
  spec: ChartSpec,
  scale: ChartScale,
): string[] {
  const { px, py, drawable } = scale;
  const parts = [
    `<line x1="${legendX}" y1="14" x2="${legendX + 16}" y2="14" stroke="${color}" stroke-width="2"/>`,
    `<text x="${legendX + 20}" y="14" dominant-baseline="middle">${escapeHtml(label)}</text>`,
  ];
  // A NaN or, on a log scale, a non-positive value breaks the line; each run is one polyline.
  const runs: string[][] = [[]];
  series.values.forEach((v, j) => {
    if (drawable(v)) runs[runs.length - 1].push(`${px(epochs[j]).toFixed(1)},${py(v).toFixed(1)}`);
    else if (runs[runs.length - 1].length > 0) runs.push([]);
  });
  for (const points of runs.filter((r) => r.length > 0)) {
    parts.push(
      `<polyline points="${points.join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`,
    );
  }
  series.values.forEach((v, j) => {
    // A per-step curve marks the epochs' ends only: a dot per step would add one element per
    // training step to the page.
    if (!drawable(v) || (spec.xs && !Number.isInteger(epochs[j]))) return;
    const tip = `${series.label}, epoch ${epochs[j]}: ${spec.format(v)}`;
    parts.push(
      `<circle cx="${px(epochs[j]).toFixed(1)}" cy="${py(v).toFixed(1)}" r="3" fill="${color}"><title>${escapeHtml(tip)}</title></circle>`,
    );
  });
  return parts;
}

function renderChart(epochs: readonly number[], spec: ChartSpec): string {
  const { width, height, left, right, top, bottom } = chart;
  const scale = chartScale(epochs, spec);
  const parts = chartAxes(scale);
  let legendX = left;
  spec.series.forEach((series, i) => {
    const missing = series.values.filter((v) => !scale.drawable(v)).length;
    const label = missing > 0 ? `${series.label} (${missing} not drawn)` : series.label;
    const color = palette[i % palette.length];
    parts.push(...chartSeries(series, color, legendX, label, epochs, spec, scale));
    // A rough width for 12px text: the legend only needs not to overlap.
    legendX += 36 + label.length * 7;
  });
  if (!spec.series.some((s) => s.values.some(scale.drawable))) {
    const [cx, cy] = [left + (width - left - right) / 2, top + (height - top - bottom) / 2];
    parts.push(`<text x="${cx}" y="${cy}" text-anchor="middle" fill="#888">no data</text>`);
  }
  const title = escapeHtml(spec.title);
  return `<figure>
<figcaption>${title}${spec.scale === 'log' ? ' (log scale)' : ''}</figcaption>
<svg viewBox="0 0 ${width} ${height}" role="img" aria-label="${title}">
${parts.join('\n')}
</svg>
</figure>`;
}
