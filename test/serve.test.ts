/**
 * The inference server over real loopback HTTP: answers equal to `classify` on the same images
 * (one at a time and from 32 concurrent clients, batched), every kind of bad input answered with
 * its 4xx while the server keeps serving, clients that disconnect or upload slowly, /healthz and
 * /metrics, and a real SIGTERM to `npm run serve` with requests in flight.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { AlexNet, type ClassScore } from '../lib';
import { classify } from '../lib/predict';
import { ClassifierServer } from '../lib/serve/server';
import { CliProcess, expectFreshBuild, SERVE_CLI } from './util/built-cli';
import { jpegBytes, pngBytes } from './util/images';

const SMALL = { device: 'cpu' as const, classes: 4, inputSize: 67, widthScale: 1 / 16, seed: 5 };

interface Answer {
  status: number;
  body: { top?: ClassScore[]; ms?: number; error?: string; [key: string]: unknown };
  headers: Headers;
}

async function post(url: string, body: Uint8Array | FormData, headers = {}): Promise<Answer> {
  const res = await fetch(`${url}/classify`, { method: 'POST', body, headers });
  return { status: res.status, body: (await res.json()) as Answer['body'], headers: res.headers };
}

function multipart(bytes: Uint8Array, field = 'file'): FormData {
  const form = new FormData();
  form.append('caption', 'a field before the file');
  form.append(field, new Blob([bytes]), 'cat.png');
  return form;
}

/** The sample lines of /metrics, by metric name and labels. */
async function metrics(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const lines = text.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
  return new Map(
    lines.map((line) => [line.slice(0, line.lastIndexOf(' ')), Number(line.split(' ').at(-1))]),
  );
}

/** What classify answers for `bytes` (written to a file, as a user would pass it). */
async function classified(model: AlexNet, dir: string, bytes: Uint8Array, i: number) {
  const file = path.join(dir, `image-${i}.bin`);
  fs.writeFileSync(file, bytes);
  const [result] = await classify(model, [file], { top: 4, workers: 0 });
  return result.top;
}

/**
 * The server batches images with others, and a batch of n runs GEMMs blocked for n rows, so
 * each image's float32 sums are taken in another order than classify's batch of one: equal up
 * to rounding (1e-5 of a probability is ~100 float32 ulps near 0.25).
 */
function expectSameTop(actual: ClassScore[] | undefined, expected: ClassScore[]): void {
  expect(actual?.map((s) => s.label)).toEqual(expected.map((s) => s.label));
  actual!.forEach((score, i) => {
    expect(Math.abs(score.probability - expected[i].probability)).toBeLessThan(1e-5);
  });
}

describe('npm run serve: the inference server', () => {
  let dir: string;
  let model: AlexNet;
  let server: ClassifierServer;
  let url: string;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-serve-'));
    model = new AlexNet(SMALL);
    model.classNames = ['ant', 'bee', 'cat', 'dog'];
    server = await ClassifierServer.start(model, {
      port: 0,
      top: 4,
      maxBatch: 8,
      maxDelayMs: 100,
      maxBodyBytes: 200_000,
      workers: 2,
    });
    url = server.url;
  });
  afterAll(async () => {
    await server.close();
    await model.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a raw body and a multipart file field get the answer classify gives', async () => {
    const png = pngBytes(150, 96, 7);
    const jpeg = jpegBytes(90, 130, 11);
    const raw = await post(url, jpeg, { 'Content-Type': 'image/jpeg' });
    expect(raw.status).toBe(200);
    expectSameTop(raw.body.top, await classified(model, dir, jpeg, 0));
    expect(raw.body.ms).toBeGreaterThan(0);
    const form = await post(url, multipart(png));
    expect(form.status).toBe(200);
    expectSameTop(form.body.top, await classified(model, dir, png, 1));
  });

  test('32 concurrent clients: each gets the answer for its image, in batches of at most 8', async () => {
    const before = await metrics(url);
    const images = Array.from({ length: 32 }, (_, i) =>
      i % 2 ? pngBytes(70 + i, 100 - i, i) : jpegBytes(100 - i, 70 + i, i),
    );
    const answers = await Promise.all(images.map((bytes) => post(url, bytes)));
    for (const [i, answer] of answers.entries()) {
      expect(answer.status).toBe(200);
      expectSameTop(answer.body.top, await classified(model, dir, images[i], i));
    }
    const after = await metrics(url);
    const delta = (name: string) => after.get(name)! - (before.get(name) ?? 0);
    expect(delta('alexnet_batch_size_sum')).toBe(32);
    // Fewer passes than images: requests were batched; none above --max-batch.
    expect(delta('alexnet_batch_size_count')).toBeLessThan(32);
    expect(delta('alexnet_batch_size_bucket{le="8"}')).toBe(delta('alexnet_batch_size_count'));
  });

  test('bad input is a 4xx with a one-line reason, and the server keeps serving', async () => {
    const jpeg = jpegBytes(90, 130, 3);
    const cases: [string, Promise<Answer>, number, RegExp][] = [
      ['text', post(url, Buffer.from('hello, not an image')), 415, /none of these/],
      ['truncated JPEG', post(url, jpeg.subarray(0, jpeg.length >> 1)), 422, /corrupt/],
      ['empty body', post(url, new Uint8Array(0)), 400, /empty/],
      ['no file field', post(url, multipart(jpeg, 'image')), 400, /'file' field/],
      ['over --max-body', post(url, new Uint8Array(300_000).fill(0xff)), 413, /200000 bytes/],
    ];
    for (const [what, answer, status, reason] of cases) {
      const { status: got, body } = await answer;
      expect({ what, status: got }).toEqual({ what, status });
      expect(body.error).toMatch(reason);
      expect(body.error).not.toContain('\n');
    }
    const wrongPath = await fetch(`${url}/predict`, { method: 'POST', body: jpeg });
    expect(wrongPath.status).toBe(404);
    const wrongMethod = await fetch(`${url}/classify`);
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('POST');
    expect((await post(url, jpeg)).status).toBe(200);
    const counts = await metrics(url);
    for (const kind of [
      'unsupported_media',
      'unprocessable_image',
      'bad_request',
      'body_too_large',
    ]) {
      expect(counts.get(`alexnet_http_errors_total{kind="${kind}"}`)).toBeGreaterThan(0);
    }
    expect(counts.get('alexnet_http_requests_total{path="/classify",code="500"}')).toBeUndefined();
    expect(counts.get('alexnet_http_requests_total{path="other",code="404"}')).toBe(1);
  });

  test('a chunked upload over --max-body is refused without reading the rest', async () => {
    const socket = net.connect(server.port, '127.0.0.1');
    let reply = '';
    socket.on('data', (chunk) => {
      reply += chunk;
    });
    const closed = new Promise((resolve) => socket.on('close', resolve));
    // The server answers 413 and closes while chunks are still being written: a write after
    // that fails with EPIPE or ECONNRESET, which is this test's expected end, not an error.
    const errors: string[] = [];
    socket.on('error', (error: NodeJS.ErrnoException) => errors.push(error.code ?? error.message));
    socket.write(`POST /classify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`);
    // 250 kB in 10 kB chunks: past the 200 kB limit, the server answers and closes.
    for (let i = 0; i < 25 && !socket.destroyed; ++i) {
      socket.write(`2710\r\n${'x'.repeat(10_000)}\r\n`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await closed;
    expect(reply).toMatch(/^HTTP\/1.1 413/);
    for (const code of errors) expect(['EPIPE', 'ECONNRESET']).toContain(code);
  });

  test('a client that disconnects mid-upload is only counted', async () => {
    const before = (await metrics(url)).get('alexnet_client_disconnects_total')!;
    const socket = net.connect(server.port, '127.0.0.1');
    // Destroyed by this side: an error here would be the test's own fault, so it fails the test.
    const errors: Error[] = [];
    socket.on('error', (error) => errors.push(error));
    await new Promise((resolve) => socket.on('connect', resolve));
    socket.write('POST /classify HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n');
    socket.write(Buffer.alloc(1000));
    // Loopback delivers the headers to the server's parser in well under 50 ms; should it not,
    // no disconnect is counted and the wait below runs into the test's timeout: a failure, never
    // a false pass.
    await new Promise((resolve) => setTimeout(resolve, 50));
    socket.destroy();
    // The server counts the disconnect when its request sees the close: wait for it rather than
    // for a fixed time.
    while ((await metrics(url)).get('alexnet_client_disconnects_total') !== before + 1) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(errors).toEqual([]);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });

  test('a slow upload does not hold up other clients', async () => {
    const jpeg = jpegBytes(80, 80, 9);
    const socket = net.connect(server.port, '127.0.0.1');
    const errors: Error[] = [];
    socket.on('error', (error) => errors.push(error));
    let reply = '';
    socket.on('data', (chunk) => {
      reply += chunk;
    });
    const closed = new Promise((resolve) => socket.on('end', resolve));
    socket.write(
      `POST /classify HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: ${jpeg.length}\r\n\r\n`,
    );
    // All but the last byte of the slow upload, then the other client's whole request: it must be
    // answered while the slow one is still incomplete. Ordering, not timing: were the server
    // held up by the slow upload, the fast answer would never come and the test would time out.
    socket.write(jpeg.subarray(0, jpeg.length - 1));
    const fast = await post(url, pngBytes(90, 90, 4));
    expect(fast.status).toBe(200);
    expect(reply).toBe('');
    socket.write(jpeg.subarray(jpeg.length - 1));
    await closed;
    expect(errors).toEqual([]);
    expect(reply).toMatch(/^HTTP\/1.1 200/);
    expectSameTop(
      JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4)).top,
      await classified(model, dir, jpeg, 99),
    );
  });

  test('past --max-queue images in progress, a request is answered 503 at once', async () => {
    // A second server whose batches wait 5 s: the first two requests are still in progress
    // when the third arrives 200 ms after them (on loopback, their bodies reach the server in
    // milliseconds; 5 s leaves 4.8 s of room for a loaded machine before the batch would run).
    const small = await ClassifierServer.start(model, {
      port: 0,
      maxQueue: 2,
      maxDelayMs: 5000,
      workers: 0,
    });
    try {
      const waiting = [1, 2].map((seed) => post(small.url, pngBytes(80, 80, seed)));
      await new Promise((resolve) => setTimeout(resolve, 200));
      const refused = await post(small.url, pngBytes(80, 80, 3));
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('1');
      expect(refused.body.error).toBe('2 images are in progress, the most allowed');
      expect((await Promise.all(waiting)).map((a) => a.status)).toEqual([200, 200]);
      expect((await post(small.url, pngBytes(80, 80, 4))).status).toBe(200);
    } finally {
      await small.close();
    }
  });

  test('a port in use is a one-line error naming it', async () => {
    await expect(ClassifierServer.start(model, { port: server.port, workers: 0 })).rejects.toThrow(
      `Cannot listen on 127.0.0.1:${server.port}: EADDRINUSE`,
    );
  });

  test('/healthz names the device and model', async () => {
    const res = await fetch(`${url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', device: 'cpu', model: 'alexnet' });
  });
});

describe('npm run serve as a process', () => {
  let dir: string;
  let checkpoint: string;
  beforeAll(async () => {
    expectFreshBuild();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-serve-cli-'));
    const model = new AlexNet(SMALL);
    checkpoint = path.join(dir, 'model.safetensors');
    await model.save(checkpoint);
    await model.dispose();
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('SIGTERM answers the requests in flight, refuses new ones, then exits 0', async () => {
    // A 5 s batching delay keeps three requests waiting in the batcher when the signal comes
    // 300 ms after them (their bodies arrive in milliseconds on loopback; 4.7 s of room for a
    // loaded machine), and they are answered only after the signal, which the arrivals check.
    const serve = new CliProcess(
      ['--checkpoint', checkpoint, '--port', '0', '--max-delay-ms', '5000', '--workers', '0'],
      { script: SERVE_CLI },
    );
    await serve.waitFor(/listening on (http:\S+)/);
    const url = /listening on (http:\S+)/.exec(serve.output)![1];
    const arrivals: number[] = [];
    const requests = [1, 2, 3].map((seed) =>
      post(url, pngBytes(80, 80, seed)).then((answer) => {
        arrivals.push(performance.now());
        return answer;
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    const signalled = performance.now();
    serve.child.kill('SIGTERM');
    await serve.waitFor(/SIGTERM: finishing/);
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
    const answers = await Promise.all(requests);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    for (const at of arrivals) expect(at).toBeGreaterThan(signalled);
    const { code } = await serve.exit;
    expect(code).toBe(0);
    expect(serve.output).toMatch(/stopped/);
  });

  test('--help is the usage; a bad flag is a one-line error naming it', () => {
    const help = spawnSync(process.execPath, [SERVE_CLI, '--help'], {
      encoding: 'utf8',
    });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(
      /--max-batch <n>\s+images per forward pass at most \(default: 16\)/,
    );
    const bad = spawnSync(
      process.execPath,
      [SERVE_CLI, '--checkpoint', checkpoint, '--max-body', 'lots'],
      { encoding: 'utf8' },
    );
    expect(bad.status).toBe(1);
    expect(bad.stderr).toBe(
      "error: Expected a size such as 20mb or 512kb for --max-body but received 'lots'\n",
    );
  });
});
