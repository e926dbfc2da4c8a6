#!/usr/bin/env node
/**
 * `npm run serve -- [--weights bvlc_alexnet.npy | --checkpoint run.safetensors] [options]`: an
 * HTTP server answering `POST /classify` with an image's top classes, batching concurrent
 * requests into forward passes (lib/serve/server.ts). Ctrl-C or SIGTERM stops accepting
 * connections, answers the requests in flight and exits 0; a second signal exits at once.
 */
import * as path from 'node:path';
import type { DeviceRequest } from '../lib/device';
import { AlexNetError } from '../lib/errors';
import { AlexNet } from '../lib/nn/alexnet';
import { ClassifierServer } from '../lib/serve/server';
import { StopSignals } from '../lib/train/stop-signals';
import { type Flags, parseFlags, run } from './cli';
import { DECODE_FLAGS, decodeFlags, decoderLine } from './decode-flags';

const USAGE = `Usage: alexnet serve [options]

Serves the model over HTTP on Node's own http module:
  GET  /           a page to try it: choose or drop an image, see the top classes
  POST /classify   the image (JPEG or PNG) as the body, or as the 'file' field of
                   multipart/form-data: 200 {"top":[{"label","index","probability"}],"ms"}
  GET  /healthz    200 {"status":"ok","device","model"}
  GET  /metrics    Prometheus text: requests, errors by kind, batch sizes, latency
Concurrent requests are batched: a batch runs when --max-batch images wait or the oldest has
waited --max-delay-ms. Without --weights or --checkpoint it reads bvlc_alexnet.npy from the
current folder.`;

const FLAGS: Flags = {
  weights: {
    type: 'string',
    description: 'bvlc_alexnet.npy: the 1000 ImageNet classes',
    default: 'bvlc_alexnet.npy',
    placeholder: 'file',
  },
  checkpoint: {
    type: 'string',
    description: 'a checkpoint of alexnet train (its own classes)',
    placeholder: 'file',
  },
  port: {
    type: 'string',
    description: 'TCP port; 0 picks a free one',
    default: '8080',
    placeholder: 'n',
  },
  host: {
    type: 'string',
    description: 'interface to listen on',
    default: '127.0.0.1',
    placeholder: 'h',
  },
  device: {
    type: 'string',
    description: "'auto', 'cpu', 'cuda' or 'cuda:N'",
    default: 'auto',
    placeholder: 'd',
  },
  top: {
    type: 'string',
    description: 'classes per answer',
    defaultText: '5, or the classes if fewer',
    placeholder: 'k',
  },
  'max-batch': {
    type: 'string',
    description: 'images per forward pass at most',
    default: '16',
    placeholder: 'n',
  },
  'max-delay-ms': {
    type: 'string',
    description: 'how long a batch waits for more images',
    default: '5',
    placeholder: 'ms',
  },
  'max-body': {
    type: 'string',
    description: "largest upload: bytes, or with kb, mb (1024-based), e.g. '20mb'",
    default: '20mb',
    placeholder: 'size',
  },
  'max-queue': {
    type: 'string',
    description: 'images in progress at most; more are answered 503 (bounds memory)',
    default: '64',
    placeholder: 'n',
  },
  'ten-crop': {
    type: 'boolean',
    description: 'average over the ten crops (slower, a little more accurate)',
  },
  workers: {
    type: 'string',
    description: 'threads decoding uploads',
    defaultText: 'one per core',
    placeholder: 'n',
  },
  ...DECODE_FLAGS,
  help: { type: 'boolean', description: 'show this help' },
};

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
};

/** A byte size such as `20mb`, `512kb` or `1000000`. */
function byteSize(flag: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const unit = UNITS[match?.[2].toLowerCase() ?? 'none'];
  const bytes = match && unit !== undefined ? Math.floor(Number(match[1]) * unit) : Number.NaN;
  if (!(bytes >= 1)) {
    throw new AlexNetError(
      `Expected a size such as 20mb or 512kb for --${flag} but received '${text}'`,
    );
  }
  return bytes;
}

/** Starts the server the flags describe; resolves to it (and the model it serves) once listening. */
export async function serve(argv: string[]): Promise<{ server: ClassifierServer; net: AlexNet }> {
  const args = parseFlags(argv, FLAGS, USAGE);
  if (args.positionals.length > 0) {
    throw new AlexNetError(`Unexpected argument '${args.positionals[0]}'\n\n${USAGE}`);
  }
  if (args.given('weights') && args.given('checkpoint')) {
    throw new AlexNetError('Expected --weights or --checkpoint, not both');
  }
  const positiveInt = (n: number) => Number.isInteger(n) && n > 0;
  const nonNegativeInt = (n: number) => Number.isInteger(n) && n >= 0;
  const file = args.given('checkpoint') ? args.string('checkpoint')! : args.string('weights')!;
  const options = {
    host: args.string('host')!,
    port: args.number('port', (n) => nonNegativeInt(n) && n <= 65535, 'port between 0 and 65535')!,
    top: args.number('top', positiveInt, 'positive integer'),
    maxBatch: args.number('max-batch', positiveInt, 'positive integer')!,
    maxDelayMs: args.number('max-delay-ms', nonNegativeInt, 'non-negative integer')!,
    maxBodyBytes: byteSize('max-body', args.string('max-body')!),
    maxQueue: args.number('max-queue', positiveInt, 'positive integer')!,
    tenCrop: args.flag('ten-crop'),
    workers: args.number('workers', nonNegativeInt, 'non-negative integer'),
    model: path.basename(file),
    ...decodeFlags({
      decoder: args.string('decoder')!,
      autoOrient: args.flag('auto-orient'),
      maxPixels: args.string('max-pixels')!,
    }),
  };
  const net = await AlexNet.fromFile(file, { device: args.string('device') as DeviceRequest });
  try {
    if (options.top !== undefined && options.top > net.arch.classes) {
      throw new AlexNetError(
        `Expected --top of at most ${net.arch.classes} (the classes of ${file}) but received ${options.top}`,
      );
    }
    const server = await ClassifierServer.start(net, options);
    return { server, net };
  } catch (error) {
    await net.dispose();
    throw error;
  }
}

/** The serve command as `alexnet serve` runs it: serves until a signal stops it. */
export async function main(argv: string[]): Promise<void> {
  const { server, net } = await serve(argv);
  console.log(decoderLine(server.decode));
  console.log(`listening on ${server.url} (device ${net.device}, ${net.arch.classes} classes)`);
  const stop = new StopSignals((signal) => {
    console.log(`${signal}: finishing the requests in flight (again to exit at once)`);
    run(async () => {
      await server.close();
      await net.dispose();
      stop.dispose();
      console.log('stopped');
    });
  });
}

if (require.main === module) run(() => main(process.argv.slice(2)));
