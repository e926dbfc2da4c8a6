/**
 * The summary step of scripts/device/check.sh (scripts/device/summary.ts) on sample outputs of
 * the GPU machine's steps, here on the CPU: gpu-check.json as gpu-check writes it (pretty-printed;
 * the summary once parsed only each file's last line, `}`, and reported 0/0), the one-line JSON of
 * the benchmarks, a missing file and a file that is not JSON. Also run as check.sh runs it: the
 * built script under plain node.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { main as gpuCheck } from '../scripts/device/gpu-check';
import { collectFigures, formatSummary } from '../scripts/device/summary';

const ROOT = path.join(__dirname, '..');
const BUILT = path.join(ROOT, 'dist', 'scripts', 'device', 'summary.js');

/** A gpu-check report with two passing checks and one failing, written as gpu-check writes it. */
function writeGpuCheck(out: string): void {
  const report = {
    device: 'cuda:0',
    seed: 1,
    libraries: { ok: true, cudnn: 'cuDNN 9.13.0 from /w/nvidia/cudnn/lib', deterministic: true },
    results: [
      {
        name: 'conv 11x11/4 forward: twice',
        ok: true,
        excess: -0,
        maxError: 0,
        tolerance: 'exact',
      },
      { name: 'conv 11x11/4 forward', ok: true, maxError: 2e-7, tolerance: 'atol 0.000363 rtol 0' },
      { name: 'max-pool 3/2 backward: twice', ok: false, maxError: 5.9e-8, tolerance: 'exact' },
    ],
    algorithms: [{ pass: 'fwd', shape: '2,3,67,67,16,11,11,4,4,0,0,1,float32', algo: 1 }],
  };
  fs.writeFileSync(path.join(out, 'gpu-check.json'), `${JSON.stringify(report, null, 2)}\n`);
}

function writeBench(out: string, name: string, fields: Record<string, unknown>): void {
  fs.writeFileSync(path.join(out, name), `${JSON.stringify(fields)}\n`);
}

describe('device check summary', () => {
  let out: string;
  beforeEach(() => {
    out = fs.mkdtempSync(path.join(os.tmpdir(), 'device-summary-'));
  });
  afterEach(() => fs.rmSync(out, { recursive: true, force: true }));

  test('reads the pretty-printed gpu-check.json whole: counts, failures, libraries, algorithms', () => {
    writeGpuCheck(out);
    writeBench(out, 'bench-ours.json', {
      train_images_per_s: 1500,
      first_loss: 6.9,
      last_loss: 6.8,
    });
    writeBench(out, 'bench-torch.json', { train_images_per_s: 3000, device: 'NVIDIA H100' });
    const f = collectFigures(out, { apiCheck: 'passed', suiteExit: 1, nccl: 'passed' });
    expect([f.gpu_suite_passed, f.gpu_suite_total]).toEqual([2, 3]);
    expect(f.gpu_suite_failed.map((r) => r.name)).toEqual(['max-pool 3/2 backward: twice']);
    expect(f.libraries).toMatchObject({ ok: true, deterministic: true });
    expect(f.conv_algorithms).toHaveLength(1);
    const lines = formatSummary(f);
    expect(lines).toContain('FAIL max-pool 3/2 backward: twice: max error 5.9e-8 (exact)');
    // 1500 / 3000 images per second.
    expect(lines.find((l) => l.startsWith('train img/s (b128)'))).toMatch(
      /1500\.0\s+3000\.0\s+0\.50$/,
    );
    expect(lines.at(-1)).toMatch(
      /^GPU suite: 2\/3 passed \(exit 1\); API check: passed; NCCL check: passed;.*device: NVIDIA H100$/,
    );
  });

  test('a missing benchmark file and one that is not JSON are reported as errors, not as zeros', () => {
    writeGpuCheck(out);
    fs.writeFileSync(path.join(out, 'bench-torch.json'), 'Traceback (most recent call last):\n');
    const f = collectFigures(out, { apiCheck: 'not run', suiteExit: 0 });
    expect(String(f.ours.error)).toMatch(/^bench-ours\.json: ENOENT/);
    expect(String(f.torch.error)).toMatch(/^bench-torch\.json: .*JSON/);
    const lines = formatSummary(f);
    expect(lines.find((l) => l.startsWith('train img/s (b128)'))).toMatch(/-\s+-$/);
    expect(lines.find((l) => l.startsWith('ours: '))).toContain('ERROR bench-ours.json: ENOENT');
  });

  test("gpu-check's own report where there is no GPU: the reason shows, with 0/0 checks", async () => {
    const quiet = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    const code = await gpuCheck(['--json', path.join(out, 'gpu-check.json')]);
    quiet.mockRestore();
    expect(code).toBe(2);
    const f = collectFigures(out, { apiCheck: 'not run', suiteExit: code });
    expect(f.gpu_suite_total).toBe(0);
    expect(f.gpu_check_error).not.toBeNull();
    expect(formatSummary(f)).toContain(`gpu-check: ${f.gpu_check_error}`);
  });

  test('the built script runs under plain node and writes figures.json', () => {
    const source = path.join(ROOT, 'scripts', 'device', 'summary.ts');
    if (!fs.existsSync(BUILT) || fs.statSync(BUILT).mtimeMs < fs.statSync(source).mtimeMs) {
      throw new Error(`${BUILT} is missing or stale: run npx tsc -p tsconfig.build.json first`);
    }
    writeGpuCheck(out);
    const run = spawnSync(process.execPath, [BUILT, out, 'passed', '1', 'passed', 'not run'], {
      encoding: 'utf8',
    });
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('GPU suite: 2/3 passed (exit 1)');
    const figures = JSON.parse(fs.readFileSync(path.join(out, 'figures.json'), 'utf8'));
    expect(figures).toMatchObject({
      gpu_suite_passed: 2,
      gpu_suite_total: 3,
      prebuilt_check: 'not run',
    });
  });
});
