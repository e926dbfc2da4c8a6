/**
 * An HTTP inference server on Node's own `http`: `POST /classify` with an image (raw bytes, or a
 * `file` field of multipart/form-data) answers its top classes; `GET /` is a page to try it in a
 * browser (page.ts); `GET /healthz` and `GET /metrics` (Prometheus text) are for whatever runs
 * it. Uploads are decoded in the decode
 * pool's worker threads while the network runs, and images from concurrent requests are gathered
 * into batches (batcher.ts) for one forward pass each. Bad input is a 4xx with a one-line reason,
 * never a crash.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { DecodePool } from '../data/decode-pool';
import { type DecodeOptions, type DecodeSettings, decodeSettings } from '../data/decoder';
import { AlexNetError } from '../errors';
import { type Classifier, type ClassScore, ResizedClassifier } from '../predict';
import { boolean, fail, integer } from '../validate';
import { DynamicBatcher } from './batcher';
import { type ErrorKind, ServerMetrics } from './metrics';
import { formFile, MultipartError, multipartBoundary } from './multipart';
import { classifierPage, PAGE_CSP } from './page';

export interface ServeOptions extends DecodeOptions {
  /** Interface to listen on. @default '127.0.0.1' */
  host?: string;
  /** TCP port; 0 picks a free one (see `port` once started). @default 8080 */
  port?: number;
  /** Classes per answer, most probable first. @default 5, or the classes if fewer */
  top?: number;
  /** Images per forward pass at most. @default 16 */
  maxBatch?: number;
  /** How long the first image of a batch waits for others, in ms. @default 5 */
  maxDelayMs?: number;
  /** Largest request body, in bytes; a larger one is refused with 413. @default 20 MiB */
  maxBodyBytes?: number;
  /**
   * Classify requests in progress (uploading, decoding or waiting for a batch) at most; one more
   * is answered 503 at once, which bounds memory at about maxQueue x maxBodyBytes. @default 64
   */
  maxQueue?: number;
  /** Average over the ten crops (as classify's tenCrop). @default false */
  tenCrop?: boolean;
  /** Threads decoding uploads. @default one per core */
  workers?: number;
  /** What /healthz reports as the model. @default 'alexnet' */
  model?: string;
}

/** The answer to a classify request. */
export interface ClassifyResponse {
  top: ClassScore[];
  /** Milliseconds from the request's arrival to its answer. */
  ms: number;
}

/** A request answered with an error status; the message is its one-line reason. */
class HttpError extends AlexNetError {
  constructor(
    readonly status: number,
    readonly kind: ErrorKind,
    message: string,
  ) {
    super(message);
  }
}

/** The client closed the connection before the request was read. */
class ClientGone extends Error {}

const ROUTES: Record<string, readonly string[]> = {
  '/': ['GET', 'HEAD'],
  '/classify': ['POST'],
  '/healthz': ['GET', 'HEAD'],
  '/metrics': ['GET', 'HEAD'],
};

const MIB = 1024 * 1024;

export class ClassifierServer {
  readonly metrics = new ServerMetrics();
  private readonly server: http.Server;
  private readonly pool: DecodePool;
  private readonly classifier: ResizedClassifier;
  private readonly batcher: DynamicBatcher<Uint8Array, ClassScore[]>;
  private readonly maxBodyBytes: number;
  private readonly maxQueue: number;
  /** Classify requests in progress. */
  private queued = 0;
  /** How uploads are decoded (the decoder chosen, the pixel limit). */
  readonly decode: DecodeSettings;
  private readonly model: string;
  private readonly inFlight = new Set<Promise<void>>();
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly net: Classifier,
    options: ServeOptions,
  ) {
    const classes = net.arch.classes;
    const top = integer('top', options.top ?? Math.min(5, classes), 1, classes);
    const tenCrop = boolean('tenCrop', options.tenCrop ?? false);
    this.maxBodyBytes = integer('maxBodyBytes', options.maxBodyBytes ?? 20 * MIB, 1);
    this.maxQueue = integer('maxQueue', options.maxQueue ?? 64, 1);
    this.decode = decodeSettings(options);
    const model = options.model ?? 'alexnet';
    if (typeof model !== 'string') fail('string', 'model', model);
    this.model = model;
    this.batcher = new DynamicBatcher((images) => this.runBatch(images), options);
    this.classifier = new ResizedClassifier(net, top, tenCrop);
    this.pool = new DecodePool(
      integer('workers', options.workers ?? DecodePool.defaultWorkers(), 0, 256),
    );
    this.server = http.createServer((req, res) => this.track(this.handle(req, res)));
  }

  /** Starts a server for `net` and resolves once it listens. The server does not own `net`. */
  static async start(net: Classifier, options: ServeOptions = {}): Promise<ClassifierServer> {
    if (typeof options !== 'object' || options === null) fail('object', 'options', options);
    const host = options.host ?? '127.0.0.1';
    if (typeof host !== 'string' || host === '') fail('host name or address', 'host', host);
    const port = integer('port', options.port ?? 8080, 0, 65535);
    const server = new ClassifierServer(net, options);
    await new Promise<void>((resolve, reject) => {
      server.server.once('error', reject);
      server.server.listen(port, host, () => {
        server.server.off('error', reject);
        resolve();
      });
    }).catch(async (error: NodeJS.ErrnoException) => {
      await server.release();
      throw new AlexNetError(`Cannot listen on ${host}:${port}: ${error.code ?? error.message}`);
    });
    return server;
  }

  /** The port listened on (the one picked, for port 0). */
  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    const { address, family } = this.server.address() as AddressInfo;
    return `http://${family === 'IPv6' ? `[${address}]` : address}:${this.port}`;
  }

  /**
   * Stops accepting connections, answers the requests already in flight, then stops the decode
   * threads and frees the input buffers. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
      this.server.closeIdleConnections();
      while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
      await stopped;
      await this.release();
    })();
    return this.closing;
  }

  private async release(): Promise<void> {
    await this.pool.close();
    this.classifier.dispose();
  }

  private track(request: Promise<void>): void {
    this.inFlight.add(request);
    void request.finally(() => this.inFlight.delete(request));
  }

  /** Answers one request; never rejects. */
  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = performance.now();
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    // Unknown paths share one label: a label per path would let any client grow the metrics.
    const route = ROUTES[path] ? path : 'other';
    res.on('close', () => {
      if (!res.writableFinished) this.metrics.disconnected();
    });
    if (this.closing) res.setHeader('Connection', 'close');
    try {
      const methods = ROUTES[path];
      if (!methods) throw new HttpError(404, 'not_found', `no such path: ${path}`);
      if (!methods.includes(req.method ?? '')) {
        res.setHeader('Allow', methods.join(', '));
        throw new HttpError(405, 'method_not_allowed', `${path} takes ${methods.join(' or ')}`);
      }
      if (path === '/') {
        res.setHeader('Content-Security-Policy', PAGE_CSP);
        res.setHeader('X-Content-Type-Options', 'nosniff');
        send(res, 200, classifierPage(this.model, this.net.device), 'text/html; charset=utf-8');
      } else if (path === '/metrics') {
        send(res, 200, this.metrics.render(), 'text/plain; version=0.0.4; charset=utf-8');
      } else if (path === '/healthz') {
        sendJson(res, 200, { status: 'ok', device: this.net.device, model: this.model });
      } else {
        const top = await this.classify(req);
        sendJson(res, 200, { top, ms: elapsedMs(started) } satisfies ClassifyResponse);
      }
      this.metrics.answered(route, res.statusCode, elapsedMs(started) / 1000);
    } catch (error) {
      if (error instanceof ClientGone) return;
      const failure =
        error instanceof HttpError
          ? error
          : new HttpError(500, 'internal', (error as Error)?.message ?? String(error));
      this.metrics.failed(failure.kind);
      // Neither body is read: closing the connection spares reading it to reuse the connection.
      if (failure.status === 413 || failure.status === 503) res.setHeader('Connection', 'close');
      if (failure.status === 503) res.setHeader('Retry-After', '1');
      sendJson(res, failure.status, { error: failure.message });
      this.metrics.answered(route, failure.status, elapsedMs(started) / 1000);
    }
  }

  /** Reads the request's image, decodes it on a worker, and waits for its batch. */
  private async classify(req: http.IncomingMessage): Promise<ClassScore[]> {
    if (this.queued >= this.maxQueue) {
      throw new HttpError(
        503,
        'overloaded',
        `${this.queued} images are in progress, the most allowed`,
      );
    }
    this.queued += 1;
    try {
      return await this.classifyQueued(req);
    } finally {
      this.queued -= 1;
    }
  }

  private async classifyQueued(req: http.IncomingMessage): Promise<ClassScore[]> {
    const body = await readBody(req, this.maxBodyBytes);
    const { bytes, name } = uploadedImage(req.headers['content-type'], body);
    const { size, policy } = this.net.resize;
    const prepared = await this.pool.prepareBytes(bytes, name, size, policy, this.decode);
    if ('error' in prepared) {
      throw prepared.unsupported
        ? new HttpError(415, 'unsupported_media', prepared.error)
        : new HttpError(422, 'unprocessable_image', prepared.error);
    }
    return this.batcher.submit(prepared.pixels);
  }

  private async runBatch(images: Uint8Array[]): Promise<ClassScore[][]> {
    this.metrics.batch(images.length);
    return this.classifier.run(images);
  }
}

/**
 * The request's body, refused with 413 as soon as it is known to exceed `limit` (from its
 * Content-Length, or while it arrives), after which nothing more of it is read.
 */
function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = () =>
    new HttpError(413, 'body_too_large', `the body is larger than the limit of ${limit} bytes`);
  const declared = Number(req.headers['content-length']);
  if (declared > limit) return Promise.reject(tooLarge());
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const onData = (chunk: Buffer) => {
      length += chunk.length;
      if (length > limit) {
        req.off('data', onData);
        req.pause();
        reject(tooLarge());
      } else {
        chunks.push(chunk);
      }
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('close', () => {
      if (!req.complete) reject(new ClientGone());
    });
  });
}

/** The image of a request body: the body itself, or its multipart `file` field. */
function uploadedImage(
  contentType: string | undefined,
  body: Buffer,
): { bytes: Uint8Array; name: string } {
  let image: { bytes: Uint8Array; name: string } = { bytes: body, name: 'the request body' };
  try {
    const boundary = multipartBoundary(contentType);
    if (boundary !== null) {
      const { bytes, filename } = formFile(body, boundary, 'file');
      image = { bytes, name: filename ? `upload '${filename}'` : "the 'file' field" };
    }
  } catch (error) {
    if (error instanceof MultipartError) throw new HttpError(400, 'bad_request', error.message);
    throw error;
  }
  if (image.bytes.length === 0) throw new HttpError(400, 'bad_request', `${image.name} is empty`);
  return image;
}

function elapsedMs(since: number): number {
  return Math.round((performance.now() - since) * 100) / 100;
}

function send(res: http.ServerResponse, status: number, text: string, type: string): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
  send(res, status, `${JSON.stringify(value)}\n`, 'application/json; charset=utf-8');
}
