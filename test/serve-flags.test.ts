/**
 * `npm run serve`'s flags as a user passes them, on the built CLI (dist/) in a child process
 * over real loopback HTTP: a second Ctrl-C or SIGTERM during the drain exits without finishing
 * it, `--max-batch` with `--max-delay-ms` (the batches' sizes, from /metrics), `--weights` (the
 * answers of that file's model), `--ten-crop` (classify's ten-crop answer) and `--host` (the
 * one address listened on). The weights are torchvision's layout at 1/32 width with random
 * weights and 10 classes (test/fixtures/torchvision/tv_zip.pth, by
 * scripts/make_torchvision_fixtures.py): another model than the default bvlc_alexnet.npy, which
 * is absent here, so a --weights that were not read would fail to start.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AlexNet, type ClassScore } from '../lib';
import { classify } from '../lib/predict';
import { CliProcess, expectFreshBuild, SERVE_CLI } from './util/built-cli';
import { pngBytes } from './util/images';

const WEIGHTS = path.join(__dirname, 'fixtures', 'torchvision', 'tv_zip.pth');
/** Longer than any test runs: a batch this delay would start never starts within one. */
const NEVER_MS = '600000';

interface Answer {
  status: number;
  body: { top?: ClassScore[]; ms?: number; error?: string };
}

async function post(url: string, body: Uint8Array): Promise<Answer> {
  const res = await fetch(`${url}/classify`, { method: 'POST', body });
  return { status: res.status, body: (await res.json()) as Answer['body'] };
}

/** The batch-size samples of /metrics: passes run, images in them, passes of at most 2. */
async function batches(url: string): Promise<{ count: number; sum: number; atMost2: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)![1]);
  return {
    count: value('alexnet_batch_size_count'),
    sum: value('alexnet_batch_size_sum'),
    atMost2: value('alexnet_batch_size_bucket\\{le="2"\\}'),
  };
}

/** `npm run serve -- args` on a free port; resolves once it listens, with its URL. */
async function serve(args: string[]): Promise<{ process: CliProcess; url: string }> {
  const process = new CliProcess(['--port', '0', '--workers', '0', ...args], { script: SERVE_CLI });
  await process.waitFor(/listening on (http:\S+)/);
  return { process, url: /listening on (http:\S+)/.exec(process.output)![1] };
}

/** Ends a server that passed its test (SIGTERM: it drains and exits 0). */
async function stop(server: { process: CliProcess }): Promise<void> {
  server.process.child.kill('SIGTERM');
  expect((await server.process.exit).code).toBe(0);
}

/**
 * The server batches an upload with others, and a batch of n runs GEMMs blocked for n rows:
 * its float32 sums are taken in another order than classify's batch of one, equal up to
 * rounding (1e-5 of a probability is ~100 float32 ulps near 0.1).
 */
function expectSameTop(actual: ClassScore[] | undefined, expected: ClassScore[]): void {
  expect(actual?.map((s) => s.label)).toEqual(expected.map((s) => s.label));
  actual!.forEach((score, i) => {
    expect(Math.abs(score.probability - expected[i].probability)).toBeLessThan(1e-5);
  });
}

describe('npm run serve flags (the built CLI in a child process)', () => {
  let dir: string;
  let net: AlexNet;
  const running: CliProcess[] = [];
  /** A 150 x 96 PNG (not square: its ten crops see different parts) and its file. */
  const image = pngBytes(150, 96, 7);
  let imageFile: string;
  beforeAll(async () => {
    expectFreshBuild();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-serve-flags-'));
    imageFile = path.join(dir, 'image.png');
    fs.writeFileSync(imageFile, image);
    net = await AlexNet.fromFile(WEIGHTS, { device: 'cpu' });
  });
  afterAll(async () => {
    // A server a failed assertion left running.
    for (const p of running) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await net.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const started = async (args: string[]) => {
    const server = await serve(args);
    running.push(server.process);
    return server;
  };

  test.each([
    ['SIGINT', 'SIGINT', 130],
    ['SIGTERM', 'SIGTERM', 143],
    ['SIGTERM', 'SIGINT', 130],
  ] as const)(
    'a second signal during the drain exits with 128 + its number without finishing it: the request in flight stays unanswered (%s, then %s: %i)',
    async (first, second, code) => {
      // --max-queue 1: of two uploads sent together, one is in progress and the other is
      // refused with 503 at once, so the 503 proves that the other is in flight. Its batch
      // waits NEVER_MS, so the drain the first signal starts cannot end within the test: only
      // the second signal can end the process.
      const server = await started([
        '--weights',
        WEIGHTS,
        '--max-delay-ms',
        NEVER_MS,
        '--max-queue',
        '1',
      ]);
      const uploads = [image, pngBytes(80, 80, 3)].map((bytes, i) =>
        post(server.url, bytes).then((answer) => ({ i, answer })),
      );
      const refused = await Promise.race(uploads);
      expect(refused.answer.status).toBe(503);
      const inFlight = uploads[1 - refused.i];
      server.process.child.kill(first);
      await server.process.waitFor(new RegExp(`${first}: finishing the requests in flight`));
      server.process.child.kill(second);
      expect((await server.process.exit).code).toBe(code);
      await expect(inFlight).rejects.toThrow();
      expect(server.process.output).not.toContain('stopped');
    },
  );

  test('--max-batch 3 with a --max-delay-ms that never passes: images wait for a full batch, and a batch holds 3 at most', async () => {
    const server = await started([
      '--weights',
      WEIGHTS,
      '--max-batch',
      '3',
      '--max-delay-ms',
      NEVER_MS,
    ]);
    // Three together: one pass of three (only a full batch can start while the delay runs).
    const three = await Promise.all(
      [1, 2, 3].map((seed) => post(server.url, pngBytes(80, 80, seed))),
    );
    expect(three.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(await batches(server.url)).toEqual({ count: 1, sum: 3, atMost2: 0 });
    // Four: three answered in a second pass; the fourth waits, answered by no pass so far.
    const four = [4, 5, 6, 7].map((seed) => post(server.url, pngBytes(80, 80, seed)));
    let answered = 0;
    await new Promise<void>((resolve) => {
      for (const upload of four) {
        void upload.then(() => {
          answered += 1;
          if (answered === 3) resolve();
        });
      }
    });
    expect(answered).toBe(3);
    expect(await batches(server.url)).toEqual({ count: 2, sum: 6, atMost2: 0 });
    // Two more fill the fourth's batch: every pass ran exactly 3 images.
    const last = await Promise.all([
      ...four,
      ...[8, 9].map((s) => post(server.url, pngBytes(80, 80, s))),
    ]);
    expect(last.map((a) => a.status)).toEqual(Array(6).fill(200));
    expect(await batches(server.url)).toEqual({ count: 3, sum: 9, atMost2: 0 });
    await stop(server);
  });

  test('--max-delay-ms 200 with batches of 16: an image alone runs in a pass of its own once it has waited 200 ms', async () => {
    const server = await started([
      '--weights',
      WEIGHTS,
      '--max-batch',
      '16',
      '--max-delay-ms',
      '200',
    ]);
    const answer = await post(server.url, image);
    expect(answer.status).toBe(200);
    expect(await batches(server.url)).toEqual({ count: 1, sum: 1, atMost2: 1 });
    // A lower bound, not a margin: the batcher starts a batch only once its oldest image has
    // waited the delay (lib/serve/batcher.ts checks the time when its timer fires), and `ms`
    // counts from the request's arrival, before that wait began. A loaded machine only adds.
    expect(answer.body.ms).toBeGreaterThanOrEqual(200);
    await stop(server);
  });

  test("--weights serves that file's model: the answers classify gives with it", async () => {
    const server = await started(['--weights', WEIGHTS, '--top', '10']);
    const health = await (await fetch(`${server.url}/healthz`)).json();
    expect(health).toEqual({ status: 'ok', device: 'cpu', model: 'tv_zip.pth' });
    const answer = await post(server.url, image);
    expect(answer.status).toBe(200);
    const [expected] = await classify(net, [imageFile], { top: 10, workers: 0 });
    expectSameTop(answer.body.top, expected.top);
    await stop(server);
  });

  test("--ten-crop answers classify's ten-crop result, which differs from the centre crop's", async () => {
    const server = await started(['--weights', WEIGHTS, '--top', '10', '--ten-crop']);
    const answer = await post(server.url, image);
    expect(answer.status).toBe(200);
    const [tenCrop] = await classify(net, [imageFile], { top: 10, tenCrop: true, workers: 0 });
    expectSameTop(answer.body.top, tenCrop.top);
    // The check can tell the flags apart: the centre crop alone answers otherwise (a top
    // probability 0.29 away, measured; 1e-3 is a hundred times the tolerance above).
    const [centre] = await classify(net, [imageFile], { top: 10, workers: 0 });
    const byLabel = new Map(centre.top.map((s) => [s.label, s.probability]));
    const moved = Math.max(
      ...tenCrop.top.map((s) => Math.abs(s.probability - byLabel.get(s.label)!)),
    );
    expect(moved).toBeGreaterThan(1e-3);
    await stop(server);
  });

  test('--host 127.0.0.2 listens there alone; by default the server listens on 127.0.0.1 alone', async () => {
    // Linux routes all of 127.0.0.0/8 to the loopback interface, so both addresses exist; the
    // one not listened on refuses the connection.
    const refuses = (url: string) =>
      expect(fetch(`${url}/healthz`)).rejects.toMatchObject({
        cause: { code: 'ECONNREFUSED' },
      });
    const other = await started(['--weights', WEIGHTS, '--host', '127.0.0.2']);
    const { port } = new URL(other.url);
    expect(other.url).toBe(`http://127.0.0.2:${port}`);
    expect((await fetch(`http://127.0.0.2:${port}/healthz`)).status).toBe(200);
    await refuses(`http://127.0.0.1:${port}`);
    await stop(other);

    const plain = await started(['--weights', WEIGHTS]);
    const plainPort = new URL(plain.url).port;
    expect(plain.url).toBe(`http://127.0.0.1:${plainPort}`);
    expect((await fetch(`http://127.0.0.1:${plainPort}/healthz`)).status).toBe(200);
    await refuses(`http://127.0.0.2:${plainPort}`);
    await stop(plain);
  });
});
