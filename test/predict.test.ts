/**
 * Prediction: `classify` against the preprocessing written out by hand (decode, resize,
 * centre or ten crops, normalisation, softmax), and `npm run predict` end to end on images made
 * here: its output formats, --json, --ten-crop, folders, the bvlc weights' ImageNet top 5, and
 * the one-line errors for bad weights, checkpoints and images.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AlexNet, type Classification, decodeImageJs, resizeImage, writeSafetensors } from '../lib';
import { imagenetClasses } from '../lib/io/imagenet';
import { classify } from '../lib/predict';
import { predict } from '../scripts/predict';
import { type FileArray, writeBvlcNpy } from './util/bvlc-writer';
import { expectClose } from './util/compare';
import { jpegBytes, pngBytes } from './util/images';
import { FIXTURES } from './util/npy';
import { testWithSharp } from './util/optional';

const SMALL = { device: 'cpu' as const, classes: 2, inputSize: 67, widthScale: 1 / 16, seed: 3 };
const NORMALISATION = {
  mean: [120, 110, 100] as [number, number, number],
  scale: [1 / 60, 1 / 50, 1 / 40] as [number, number, number],
  bgr: false,
};
// The shorter side to 80, then the centre 80 x 80: not the default, so the test sees that the
// checkpoint's own setting is used.
const RESIZE = { policy: 'shorter' as const, size: 80 };

function writePng(file: string, width: number, height: number, seed: number): void {
  fs.writeFileSync(file, pngBytes(width, height, seed));
}

function writeJpeg(file: string, width: number, height: number, seed: number): void {
  fs.writeFileSync(file, jpegBytes(width, height, seed));
}

/**
 * The validation preprocessing written out: resize, crop at (y, x), mirror, (pixel - mean) *
 * scale per RGB channel, NCHW.
 */
function input(
  net: AlexNet,
  file: string,
  crops: { y: number; x: number; mirror: boolean }[],
): Float32Array {
  const { size, policy } = net.resize;
  const image = resizeImage(decodeImageJs(fs.readFileSync(file), file), size, policy);
  const c = net.arch.inputSize;
  const out = new Float32Array(crops.length * 3 * c * c);
  crops.forEach(({ y, x, mirror }, n) => {
    for (let ch = 0; ch < 3; ++ch) {
      const source = net.normalisation.bgr ? 2 - ch : ch;
      for (let i = 0; i < c; ++i) {
        for (let j = 0; j < c; ++j) {
          const col = mirror ? x + c - 1 - j : x + j;
          const pixel = image.data[((y + i) * size + col) * 3 + source];
          out[((n * 3 + ch) * c + i) * c + j] =
            (pixel - net.normalisation.mean[source]) * net.normalisation.scale[source];
        }
      }
    }
  });
  return out;
}

/** Softmax of each row of logits, averaged over the rows. */
function meanSoftmax(logits: Float32Array, rows: number): number[] {
  const classes = logits.length / rows;
  const out = new Array(classes).fill(0);
  for (let r = 0; r < rows; ++r) {
    const z = Array.from(logits.subarray(r * classes, (r + 1) * classes));
    const max = Math.max(...z);
    const e = z.map((v) => Math.exp(v - max));
    const sum = e.reduce((a, b) => a + b);
    e.forEach((v, i) => {
      out[i] += v / sum / rows;
    });
  }
  return out;
}

/** Captures what `run` writes to stdout and stderr. */
async function capture(run: () => Promise<unknown>) {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out.push(String(chunk));
    return true;
  });
  const stderr = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    err.push(String(chunk));
    return true;
  });
  try {
    const value = await run();
    return { value, stdout: out.join(''), stderr: err.join('') };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
}

describe('classify and npm run predict', () => {
  let dir: string;
  let images: string;
  let checkpoint: string;
  let wide: string;
  let tall: string;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-predict-'));
    images = path.join(dir, 'images');
    fs.mkdirSync(path.join(images, 'more'), { recursive: true });
    wide = path.join(images, 'wide.png');
    tall = path.join(images, 'more', 'tall.jpg');
    writePng(wide, 150, 96, 7);
    writeJpeg(tall, 90, 130, 11);
    const net = new AlexNet(SMALL);
    net.classNames = ['cat', 'dog'];
    net.normalisation = NORMALISATION;
    net.resize = RESIZE;
    checkpoint = path.join(dir, 'latest.safetensors');
    await net.save(checkpoint);
    net.dispose();
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('classify: the centre crop and the ten crops, as written out by hand', async () => {
    const net = await AlexNet.fromFile(checkpoint, { device: 'cpu' });
    expect(net.resize).toEqual(RESIZE);
    expect(net.normalisation).toEqual(NORMALISATION);
    // The reference below decodes with jpeg-js (decodeImageJs), so classify does too.
    const js = { decoder: 'js' } as const;
    const results = await classify(net, [wide, tall], { top: 2, ...js });
    const tenCrop = await classify(net, [wide, tall], {
      top: 2,
      tenCrop: true,
      batchSize: 7,
      ...js,
    });
    const far = 80 - 67;
    const centre = far >> 1;
    const five = [
      [0, 0],
      [0, far],
      [far, 0],
      [far, far],
      [centre, centre],
    ];
    const ten = [false, true].flatMap((mirror) => five.map(([y, x]) => ({ y, x, mirror })));
    for (const [i, file] of [wide, tall].entries()) {
      const one = meanSoftmax(await net.forward(input(net, file, [ten[4]]), 1), 1);
      const averaged = meanSoftmax(await net.forward(input(net, file, ten), 10), 10);
      for (const [result, expected] of [
        [results[i], one],
        [tenCrop[i], averaged],
      ] as [Classification, number[]][]) {
        expect(result.file).toBe(file);
        const order = expected[1] > expected[0] ? [1, 0] : [0, 1];
        expect(result.top.map((t) => t.index)).toEqual(order);
        expect(result.top.map((t) => t.label)).toEqual(order.map((k) => ['cat', 'dog'][k]));
        // The same float32 forward pass; only the softmax's summation order differs.
        expectClose(
          result.top.map((t) => t.probability),
          order.map((k) => expected[k]),
          { rtol: 1e-6, atol: 1e-7 },
          file,
        );
      }
    }
    // The ten crops see other pixels than the centre one alone.
    expect(tenCrop[0].top[0].probability).not.toBeCloseTo(results[0].top[0].probability, 6);
    // A decoded image gives what its file gives, without a file name; on the main thread too.
    const decoded = decodeImageJs(fs.readFileSync(wide), wide);
    const [fromImage] = await classify(net, [decoded], { top: 2 });
    expect(fromImage).toEqual({ top: results[0].top });
    expect(await classify(net, [wide], { top: 2, workers: 0, ...js })).toEqual([results[0]]);
    net.dispose();
  });

  testWithSharp(
    'with sharp, a WebP predicts as the PNG of the same pixels; --decoder js names sharp',
    async () => {
      const sharp = require('sharp');
      const webp = path.join(dir, 'wide.webp');
      await sharp(fs.readFileSync(wide)).webp({ lossless: true }).toFile(webp);
      const net = await AlexNet.fromFile(checkpoint, { device: 'cpu' });
      const [fromPng, fromWebp] = await classify(net, [wide, webp], { top: 2, decoder: 'sharp' });
      expect(fromWebp.top).toEqual(fromPng.top);
      net.dispose();
      const printed = await capture(() => predict(['--checkpoint', checkpoint, '--verbose', webp]));
      const [best] = fromPng.top;
      expect(printed.stdout).toBe(`${best.label}  ${best.probability.toFixed(4)}\n`);
      expect(printed.stderr).toMatch(/^decoder: sharp 0\.35\.\d+, libvips [\d.]+\ndevice: cpu\n$/);
      await expect(predict(['--checkpoint', checkpoint, '--decoder', 'js', webp])).rejects.toThrow(
        `${webp}: WebP images need the sharp decoder (npm install sharp, and decoder 'sharp' or 'auto'); the js decoder reads JPEG and PNG only`,
      );
      await expect(
        predict(['--checkpoint', checkpoint, '--decoder', 'vips', webp]),
      ).rejects.toThrow("Expected 'auto', 'sharp' or 'js' for --decoder but received 'vips'");
      await expect(
        predict(['--checkpoint', checkpoint, '--max-pixels', '0', webp]),
      ).rejects.toThrow("Expected positive integer for --max-pixels but received '0'");
    },
  );

  test('predict prints name and probability per class; several inputs and folders in blocks', async () => {
    const net = await AlexNet.fromFile(checkpoint, { device: 'cpu' });
    const [expected] = await classify(net, [wide], { top: 2 });
    net.dispose();
    const one = await capture(() => predict(['--checkpoint', checkpoint, '--workers', '0', wide]));
    const best = expected.top[0];
    expect(one.stdout).toBe(`${best.label}  ${best.probability.toFixed(4)}\n`);
    const two = await capture(() =>
      predict(['--checkpoint', checkpoint, '--workers', '0', '--top', '2', wide]),
    );
    expect(two.stdout.split('\n')).toEqual([
      ...expected.top.map((t) => `${t.label}  ${t.probability.toFixed(4)}`),
      '',
    ]);
    // A folder is every image under it, sorted by path.
    const folder = await capture(() => predict(['--checkpoint', checkpoint, images]));
    expect(folder.stdout).toMatch(
      new RegExp(`^${tall}\n  (cat|dog)  0\\.\\d{4}\n${wide}\n  ${best.label}  0\\.\\d{4}\n$`),
    );
  });

  test('--json is the classify result; --ten-crop averages the ten crops', async () => {
    const net = await AlexNet.fromFile(checkpoint, { device: 'cpu' });
    const expected = await classify(net, [wide, tall], { top: 2, tenCrop: true, workers: 0 });
    net.dispose();
    const { stdout, value } = await capture(() =>
      predict([
        '--checkpoint',
        checkpoint,
        '--json',
        '--ten-crop',
        '--top',
        '2',
        '--workers',
        '0',
        wide,
        tall,
      ]),
    );
    expect(JSON.parse(stdout)).toEqual(expected);
    expect(value).toEqual(expected);
  });

  test('bvlc weights: the top 5 ImageNet classes', async () => {
    // All weights zero: every activation is 0, so the logits are fc8's bias, chosen here.
    const bias = new Float32Array(1000);
    const chosen = [386, 101, 385, 340, 1];
    chosen.forEach((k, i) => {
      bias[k] = 4 - i / 2;
    });
    // The file's shapes (deploy.prototxt in its layouts: conv HWIO, fc (in, out)).
    const shapes: [string, number[]][] = [
      ['conv1', [11, 11, 3, 96]],
      ['conv2', [5, 5, 48, 256]],
      ['conv3', [3, 3, 256, 384]],
      ['conv4', [3, 3, 192, 384]],
      ['conv5', [3, 3, 192, 256]],
      ['fc6', [9216, 4096]],
      ['fc7', [4096, 4096]],
      ['fc8', [4096, 1000]],
    ];
    const layers = shapes.map(([name, shape]): [string, [FileArray, FileArray]] => {
      const out = shape[shape.length - 1];
      const weight = { data: new Float32Array(shape.reduce((a, b) => a * b)), shape };
      const b = name === 'fc8' ? bias : new Float32Array(out);
      return [name, [weight, { data: b, shape: [out] }]];
    });
    const weights = path.join(dir, 'bvlc_alexnet.npy');
    writeBvlcNpy(weights, layers);
    const { stdout } = await capture(() => predict(['--weights', weights, '--workers', '0', wide]));
    fs.rmSync(weights);
    const z = Array.from(bias);
    const sum = z.reduce((a, v) => a + Math.exp(v), 0);
    const names = chosen.map((k) => imagenetClasses()[k]);
    const width = Math.max(...names.map((n) => n.length));
    expect(stdout).toBe(
      chosen
        .map((k, i) => `${names[i].padEnd(width)}  ${(Math.exp(z[k]) / sum).toFixed(4)}\n`)
        .join(''),
    );
    expect(stdout.split('\n')[0]).toMatch(/^African elephant, Loxodonta africana +0\.\d{4}$/);
  });

  test("torchvision's .pth: the top 5 ImageNet classes of its centre 224 after the shorter side to 256", async () => {
    // 1/32 of torchvision's widths, 1000 classes, float16 (scripts/make_torchvision_fixtures.py).
    const weights = path.join(FIXTURES, 'torchvision', 'tv_half.pth');
    const { stdout } = await capture(() =>
      predict(['--weights', weights, '--workers', '0', '--decoder', 'js', '--device', 'cpu', wide]),
    );
    const net = await AlexNet.fromFile(weights, { device: 'cpu' });
    // The reference: `input` above with the model's resize and normalisation (torchvision.test.ts
    // checks those are torchvision's), the centre crop of 224 in the 256 x 256 centre square.
    const centre = (256 - 224) / 2;
    const p = meanSoftmax(
      await net.forward(input(net, wide, [{ y: centre, x: centre, mirror: false }]), 1),
      1,
    );
    net.dispose();
    const top = p
      .map((probability, index) => ({ probability, index }))
      .sort((a, b) => b.probability - a.probability)
      .slice(0, 5);
    const names = top.map(({ index }) => imagenetClasses()[index]);
    const width = Math.max(...names.map((n) => n.length));
    expect(stdout).toBe(
      top.map((t, i) => `${names[i].padEnd(width)}  ${t.probability.toFixed(4)}\n`).join(''),
    );
  });

  test('bad weights, checkpoints and images are one-line errors naming the file', async () => {
    const missing = path.join(dir, 'missing.safetensors');
    await expect(predict(['--checkpoint', missing, wide])).rejects.toThrow(
      `Cannot read ${missing}: no such file or directory`,
    );
    const truncated = path.join(dir, 'truncated.safetensors');
    fs.writeFileSync(truncated, fs.readFileSync(checkpoint).subarray(0, 4000));
    await expect(predict(['--checkpoint', truncated, wide])).rejects.toThrow(
      `Invalid safetensors file ${truncated}: truncated`,
    );
    const small = path.join(FIXTURES, 'bvlc', 'small_py2.npy');
    await expect(predict(['--weights', small, wide])).rejects.toThrow(
      `${small}: conv1 weight has shape [11, 11, 3, 6] HWIO but the model expects [11, 11, 3, 96]`,
    );
    // A safetensors file from elsewhere, and one of ours describing another architecture.
    const foreign = path.join(dir, 'foreign.safetensors');
    await writeSafetensors(foreign, { w: { data: new Float32Array(4), shape: [2, 2] } });
    await expect(predict(['--checkpoint', foreign, wide])).rejects.toThrow(
      `${foreign} is not an alexnet-cudnn checkpoint (expected metadata format 'alexnet-cudnn/1')`,
    );
    const vgg = path.join(dir, 'vgg.safetensors');
    const model = { ...SMALL, preset: 'vgg', dropout: 0.5, classNames: ['a', 'b'] };
    await writeSafetensors(
      vgg,
      { w: { data: new Float32Array(4), shape: [2, 2] } },
      { format: 'alexnet-cudnn/1', model: JSON.stringify(model) },
    );
    await expect(predict(['--checkpoint', vgg, wide])).rejects.toThrow(
      `${vgg} holds a model this version cannot build: Expected one of bvlc, paper, torchvision for preset but received 'vgg' of type string`,
    );

    const text = path.join(dir, 'notes.jpg');
    fs.writeFileSync(text, 'not an image\n');
    await expect(predict(['--checkpoint', checkpoint, '--workers', '0', text])).rejects.toThrow(
      `${text}: expected a JPEG, PNG, WebP, AVIF, GIF or TIFF image but the file is none of these`,
    );
    const cut = path.join(dir, 'cut.jpg');
    fs.writeFileSync(cut, fs.readFileSync(tall).subarray(0, 300));
    const several = await capture(() =>
      predict(['--checkpoint', checkpoint, '--workers', '0', wide, cut]).catch(
        (error: Error) => error.message,
      ),
    );
    expect(several.value).toBe('1 of 2 images could not be read');
    expect(several.stderr).toMatch(new RegExp(`^error: ${cut}: corrupt or unsupported JPEG .*\n$`));
    expect(several.stdout).toMatch(new RegExp(`^${wide}\n  (cat|dog)  0\\.\\d{4}\n$`));

    await expect(predict(['--checkpoint', checkpoint, '--top', '3', wide])).rejects.toThrow(
      `Expected --top of at most 2 (the classes of ${checkpoint}) but received 3`,
    );
    await expect(predict(['--checkpoint', checkpoint])).rejects.toThrow(
      'Expected at least one image or folder',
    );
    await expect(predict(['--checkpoint', checkpoint, '--weights', 'x.npy', wide])).rejects.toThrow(
      'Expected --weights or --checkpoint, not both',
    );
  });
});
