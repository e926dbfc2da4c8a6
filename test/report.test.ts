import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArgumentError } from '../lib/errors';
import { type EpochMetrics, renderReport, writeReport } from '../lib/train/report';

/** Five epochs shaped like an AlexNet run: falling loss, rising accuracy, a step in the lr. */
function history(epochs = 5, withTop5 = true): EpochMetrics[] {
  return Array.from({ length: epochs }, (_, i) => ({
    epoch: i + 1,
    trainLoss: 6.9 / (i + 1),
    trainAccuracy: 0.1 * (i + 1),
    valAccuracy: 0.09 * (i + 1),
    ...(withTop5 ? { valTop5: 0.2 * (i + 1) } : {}),
    lr: i < 3 ? 0.01 : 0.001,
    imagesPerSecond: 1200 + i,
    seconds: 600.25,
  }));
}

const info = { title: 'AlexNet run', config: { batchSize: 128, lr: 0.01 } };

interface Chart {
  caption: string;
  /** The y-axis ticks, bottom to top. */
  ticks: { label: string; y: number }[];
  /** Per polyline, its points as [x, y]. */
  lines: [number, number][][];
}

function charts(html: string): Chart[] {
  return [...html.matchAll(/<figure>([\s\S]*?)<\/figure>/g)].map(([, figure]) => ({
    caption: /<figcaption>(.*?)<\/figcaption>/.exec(figure)![1],
    ticks: [
      ...figure.matchAll(/<text x="\d+" y="([\d.]+)" text-anchor="end"[^>]*>(.*?)<\/text>/g),
    ].map(([, y, label]) => ({ label, y: Number(y) })),
    lines: [...figure.matchAll(/<polyline points="([^"]*)"/g)].map(([, points]) =>
      points.split(' ').map((p) => p.split(',').map(Number) as [number, number]),
    ),
  }));
}

/** The metrics table's cells, row by row, header first. */
function tableRows(html: string): string[][] {
  const table = /<table class="metrics">([\s\S]*?)<\/table>/.exec(html)![1];
  return [...table.matchAll(/<tr>(.*?)<\/tr>/g)].map(([, row]) =>
    [...row.matchAll(/<t[hd]>(.*?)<\/t[hd]>/g)].map(([, cell]) => cell),
  );
}

describe('renderReport', () => {
  test('draws one svg per chart with one point per epoch', () => {
    const html = renderReport(history(), info);
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html.match(/<svg /g)).toHaveLength(4);
    const drawn = charts(html);
    expect(drawn.map((c) => c.caption)).toEqual([
      'Training loss',
      'Accuracy',
      'Learning rate (log scale)',
      'Throughput',
    ]);
    expect(drawn.map((c) => c.lines.length)).toEqual([1, 3, 1, 1]);
    for (const { lines } of drawn) {
      for (const points of lines) {
        expect(points).toHaveLength(5);
        for (const [x, y] of points) {
          expect(x).toBeGreaterThanOrEqual(0);
          expect(x).toBeLessThanOrEqual(640);
          expect(y).toBeGreaterThanOrEqual(0);
          expect(y).toBeLessThanOrEqual(280);
        }
        // Epochs run left to right.
        expect(points.map(([x]) => x)).toEqual([...points.map(([x]) => x)].sort((a, b) => a - b));
      }
    }
    // SVG's y grows downwards: a falling loss climbs down the page, a rising accuracy up it.
    const loss = drawn[0].lines[0].map(([, y]) => y);
    expect(loss).toEqual([...loss].sort((a, b) => a - b));
    const accuracy = drawn[1].lines[0].map(([, y]) => y);
    expect(accuracy).toEqual([...accuracy].sort((a, b) => b - a));
    // On the log scale the drop from 0.01 to 0.001 is the distance between those ticks.
    const lr = drawn[2].lines[0].map(([, y]) => y);
    expect(drawn[2].ticks.map((t) => t.label)).toEqual(['0.001', '0.01']);
    expect([lr[2], lr[3]]).toEqual(drawn[2].ticks.map((t) => t.y).reverse());
    // Throughput varies by 4 images/s: the tick labels still differ from one another.
    const labels = drawn[3].ticks.map((t) => t.label);
    expect(new Set(labels).size).toBe(labels.length);
    expect(labels.length).toBeGreaterThan(2);
  });

  test("draws the learning rate of every step where the epochs record it, dots at the epochs' ends", () => {
    // Two epochs of four steps: a warmup through the first, a fall through the second.
    const stepLr = [
      [0.25, 0.5, 0.75, 1],
      [0.9, 0.6, 0.3, 0.1],
    ];
    const steps = history(2).map((m, i) => ({ ...m, lr: stepLr[i][3], stepLr: stepLr[i] }));
    const html = renderReport(steps, info);
    const [points] = charts(html)[2].lines;
    expect(points).toHaveLength(8);
    // Evenly spaced in x (step i of 4 in epoch e at e - 1 + (i + 1) / 4), up then down in y.
    const xs = points.map(([x]) => x);
    const gaps = xs.slice(1).map((x, i) => x - xs[i]);
    for (const gap of gaps) expect(gap).toBeCloseTo(gaps[0], 0);
    const ys = points.map(([, y]) => y);
    expect(ys.slice(0, 4)).toEqual([...ys.slice(0, 4)].sort((a, b) => b - a));
    expect(ys.slice(4)).toEqual([...ys.slice(4)].sort((a, b) => a - b));
    expect(html.match(/learning rate, epoch [\d.]+:/g)).toEqual([
      'learning rate, epoch 1:',
      'learning rate, epoch 2:',
    ]);
  });

  test('puts the numbers in the table', () => {
    const rows = tableRows(renderReport(history(), info));
    expect(rows[0]).toEqual([
      'Epoch',
      'Train loss',
      'Train top-1',
      'Val top-1',
      'Val top-5',
      'Learning rate',
      'Images/s',
      'Seconds',
    ]);
    expect(rows).toHaveLength(6);
    expect(rows[1]).toEqual(['1', '6.9000', '10%', '9%', '20%', '0.01', '1200.0', '600.3']);
    expect(rows[3]).toEqual(['3', '2.3000', '30%', '27%', '60%', '0.01', '1202.0', '600.3']);
    expect(rows[5]).toEqual(['5', '1.3800', '50%', '45%', '100%', '0.001', '1204.0', '600.3']);
  });

  test('summarises the run', () => {
    const html = renderReport(history(), info);
    expect(html).toContain(
      '<p>5 epochs in 50 min 1 s; best validation top-1 45% at epoch 5; last training loss 1.3800.</p>',
    );
  });

  test('leaves out top-5 when no epoch has it', () => {
    const html = renderReport(history(5, false), info);
    expect(charts(html)[1].lines).toHaveLength(2);
    expect(html).not.toContain('top-5');
    expect(tableRows(html)[0]).not.toContain('Val top-5');
  });

  test('escapes every string it is given and loads nothing', () => {
    const html = renderReport(history(), {
      title: `<script>alert("x") & 'y'</script>`,
      config: {
        '<key>': '</td><script src="http://evil.example/x.js"></script>',
        nested: { a: [1, 2] },
      },
    });
    expect(html).toContain(
      '<title>&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;</title>',
    );
    expect(html).toContain(
      '<tr><th>&lt;key&gt;</th><td>&lt;/td&gt;&lt;script src=&quot;http://evil.example/x.js&quot;&gt;&lt;/script&gt;</td></tr>',
    );
    expect(html).toContain('<tr><th>nested</th><td>{&quot;a&quot;:[1,2]}</td></tr>');
    expect(html).not.toMatch(/<script/i);
    const plain = renderReport(history(), info);
    expect(plain).not.toMatch(/<(script|link|img|iframe|object)\b/i);
    expect(plain).not.toMatch(/url\(|@import|href=|src=/i);
    expect(plain).not.toMatch(/https?:/);
  });

  test('handles a single epoch', () => {
    const html = renderReport(history(1), info);
    const drawn = charts(html);
    expect(drawn).toHaveLength(4);
    for (const { lines } of drawn) for (const points of lines) expect(points).toHaveLength(1);
    // A one-point polyline draws nothing, so each point also has a marker.
    expect(html.match(/<circle /g)).toHaveLength(6);
    expect(html).toContain('<p>1 epoch in 10 min 0 s;');
    expect(tableRows(html)).toHaveLength(2);
  });

  test('breaks the curves at NaN and shows NaN in the table', () => {
    const epochs = history();
    epochs[2].trainLoss = Number.NaN;
    epochs[4].valAccuracy = Number.NaN;
    epochs[1].lr = Number.NaN;
    const html = renderReport(epochs, info);
    const drawn = charts(html);
    expect(drawn[0].lines.map((l) => l.length)).toEqual([2, 2]);
    expect(drawn[1].lines.map((l) => l.length)).toEqual([5, 4, 5]);
    expect(drawn[2].lines.map((l) => l.length)).toEqual([1, 3]);
    expect(html).toContain('train loss (1 not drawn)');
    expect(tableRows(html)[3][1]).toBe('NaN');
    expect(html).toContain('best validation top-1 36% at epoch 4');
    expect(html).not.toMatch(/NaN,|,NaN|="NaN"/);
  });

  test('shows "no data" for a chart with nothing finite, and an empty history', () => {
    const epochs = history(3).map((m) => ({ ...m, trainLoss: Number.NaN }));
    const drawn = renderReport(epochs, info);
    expect(charts(drawn)[0].lines).toHaveLength(0);
    expect(drawn.match(/no data/g)).toHaveLength(1);

    const empty = renderReport([], info);
    expect(empty.match(/<svg /g)).toHaveLength(4);
    expect(empty.match(/no data/g)).toHaveLength(4);
    expect(empty).toContain('No epochs have finished yet.');
    expect(empty).not.toMatch(/NaN|Infinity/);
  });

  test('validates its arguments', () => {
    const bad = history(2);
    (bad[1] as unknown as Record<string, unknown>).trainLoss = '1';
    expect(() => renderReport(bad, info)).toThrow(
      new ArgumentError("Expected number for history[1].trainLoss but received '1' of type string"),
    );
    expect(() =>
      renderReport(
        history(1).map((m) => ({ ...m, epoch: 1.5 })),
        info,
      ),
    ).toThrow('Expected integer >= 0 for history[0].epoch but received 1.5 of type number');
    expect(() => renderReport({} as unknown as EpochMetrics[], info)).toThrow(
      'Expected array of EpochMetrics for history but received an object of type Object',
    );
    expect(() => renderReport([], { title: 3 as unknown as string, config: {} })).toThrow(
      'Expected string for info.title but received 3 of type number',
    );
  });
});

describe('writeReport', () => {
  let folder: string;
  beforeAll(() => {
    folder = mkdtempSync(join(tmpdir(), 'alexnet-report-'));
  });
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  test('writes the rendered page and leaves no temporary file', async () => {
    const file = join(folder, 'report.html');
    await writeReport(file, history(2), info);
    await writeReport(file, history(3), info);
    expect(readFileSync(file, 'utf8')).toBe(renderReport(history(3), info));
    expect(readdirSync(folder)).toEqual(['report.html']);
  });
});
