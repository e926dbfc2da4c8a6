/**
 * `npm run bench -- serve`: the inference server (lib/serve) under 1, 8 and 32 concurrent clients
 * against its peer, sequential `classify` calls on the same model and images, in one run.
 *
 * The bvlc network (random weights: speed does not depend on their values) serves 500 x 375
 * JPEGs, the typical size of the Kaggle Dogs vs. Cats photos. Each client posts an image, waits
 * for the answer and posts the next (a closed loop), until --requests answers are in; latency
 * is each request's round trip as the client sees it. The clients run in this process, over
 * loopback HTTP, as a local reverse proxy would.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as jpeg from 'jpeg-js';
import { AlexNet } from '../../lib/nn/alexnet';
import { classify } from '../../lib/predict';
import { ClassifierServer } from '../../lib/serve/server';
import { type Flags, parseFlags } from '../cli';
import { describeMachine } from './machine';

const USAGE = `Usage: npm run bench -- serve [options]

Latency (p50, p99) and images/s of npm run serve's server for 1, 8 and 32 concurrent clients,
against sequential classify calls, on the bvlc network.`;

const FLAGS: Flags = {
  requests: {
    type: 'string',
    description: 'answers per configuration',
    default: '96',
    placeholder: 'n',
  },
  clients: {
    type: 'string',
    description: 'comma-separated concurrent clients',
    default: '1,8,32',
    placeholder: 'list',
  },
  'max-batch': {
    type: 'string',
    description: "the server's --max-batch",
    default: '16',
    placeholder: 'n',
  },
  'max-delay-ms': {
    type: 'string',
    description: "the server's --max-delay-ms",
    default: '5',
    placeholder: 'ms',
  },
  device: { type: 'string', description: "'cpu' or 'cuda'", default: 'cpu', placeholder: 'd' },
  help: { type: 'boolean', description: 'show this help' },
};

interface Row {
  label: string;
  imagesPerSecond: number;
  p50: number;
  p99: number;
  /** Images per forward pass, for the server's rows. */
  meanBatch?: number;
}

/** The server's batch-size histogram so far: images and forward passes. */
function batches(server: ClassifierServer): { images: number; passes: number } {
  const text = server.metrics.render();
  const value = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1]);
  return { images: value('alexnet_batch_size_sum'), passes: value('alexnet_batch_size_count') };
}

/** Eight distinct 500 x 375 JPEGs (quality 90), in memory. */
function images(): Buffer[] {
  const [width, height] = [500, 375];
  return Array.from({ length: 8 }, (_, seed) => {
    const data = Buffer.alloc(width * height * 4, 255);
    for (let p = 0; p < width * height; ++p) {
      const [x, y] = [p % width, Math.floor(p / width)];
      data[4 * p] = (x * 255) / width;
      data[4 * p + 1] = (y * 255) / height;
      data[4 * p + 2] = (x * y * (seed + 1)) % 256;
    }
    return Buffer.from(jpeg.encode({ data, width, height }, 90).data);
  });
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

/** Runs `clients` closed loops of `once` until `total` calls have finished. */
async function closedLoop(
  label: string,
  clients: number,
  total: number,
  once: (i: number) => Promise<void>,
): Promise<Row> {
  const latencies: number[] = [];
  let issued = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (issued < total) {
        const i = issued++;
        const t = performance.now();
        await once(i);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    label,
    imagesPerSecond: total / seconds,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
  };
}

export async function main(argv: string[]): Promise<void> {
  const args = parseFlags(argv, FLAGS, USAGE);
  const positive = (n: number) => Number.isInteger(n) && n > 0;
  const total = args.number('requests', positive, 'positive integer')!;
  const clientCounts = args.string('clients')!.split(',').map(Number);
  if (!clientCounts.every(positive)) {
    throw new Error(
      `Expected positive integers for --clients but received '${args.string('clients')}'`,
    );
  }
  const machine = describeMachine();
  console.log(`serve bench, ${machine.date}`);
  console.log(
    `machine: ${machine.cpu}, ${os.cpus().length} logical CPUs, GEMM ${machine.gemmIsa}; ` +
      `load average ${machine.loadAverage.join(' ')}\n`,
  );
  const device = args.string('device') as 'cpu' | 'cuda';
  const net = new AlexNet({ preset: 'bvlc', classes: 1000, device, seed: 1 });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-bench-serve-'));
  const jpegs = images();
  const files = jpegs.map((bytes, i) => {
    const file = path.join(dir, `${i}.jpg`);
    fs.writeFileSync(file, bytes);
    return file;
  });
  const server = await ClassifierServer.start(net, {
    port: 0,
    maxBatch: args.number('max-batch', positive, 'positive integer'),
    maxDelayMs: args.number(
      'max-delay-ms',
      (n) => Number.isInteger(n) && n >= 0,
      'non-negative integer',
    ),
  });
  try {
    const classifyOnce = async (i: number) => {
      await classify(net, [files[i % files.length]]);
    };
    const post = async (i: number) => {
      const res = await fetch(`${server.url}/classify`, {
        method: 'POST',
        body: jpegs[i % jpegs.length],
      });
      if (res.status !== 200)
        throw new Error(`the server answered ${res.status}: ${await res.text()}`);
      await res.json();
    };
    await closedLoop('warm-up', 4, 8, post);
    await closedLoop('warm-up', 1, 2, classifyOnce);
    const baseline = await closedLoop('sequential classify', 1, total, classifyOnce);
    const rows: Row[] = [baseline];
    for (const clients of clientCounts) {
      const before = batches(server);
      const row = await closedLoop(`server, ${clients} clients`, clients, total, post);
      const after = batches(server);
      rows.push({
        ...row,
        meanBatch: (after.images - before.images) / (after.passes - before.passes),
      });
    }
    console.log('| | images/s | p50 ms | p99 ms | images per pass | images/s vs classify |');
    console.log('|---|---|---|---|---|---|');
    for (const row of rows) {
      const ratio = (row.imagesPerSecond / baseline.imagesPerSecond).toFixed(2);
      console.log(
        `| ${row.label} | ${row.imagesPerSecond.toFixed(1)} | ${row.p50.toFixed(0)} | ${row.p99.toFixed(0)} | ${row.meanBatch?.toFixed(1) ?? 1} | ${ratio} |`,
      );
    }
  } finally {
    await server.close();
    await net.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
