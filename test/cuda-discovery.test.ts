/**
 * How the CUDA backend finds cuDNN, cuBLAS, cuBLASLt and NCCL (native/cuda/library.h, nccl.cc),
 * on the CPU: stub shared libraries that this test builds with g++, exporting only the version
 * functions (and, for NCCL, the "NCCL version 2.x.y+cudaX.Y" string the real library embeds),
 * laid out as NVIDIA's wheels lay them out (site-packages/nvidia/cudnn/lib, cublas/lib for CUDA
 * 12, cu13/lib for CUDA 13, nccl/lib) and in a folder on the loader path (LD_LIBRARY_PATH). Each
 * case runs in a child process, since what the addon loaded stays loaded. The rule under test:
 * one CUDA major for the process, cuDNN's; cuBLAS is looked for only once cuDNN's version is known,
 * and a cuBLAS, cuBLASLt or NCCL of another major is refused by name.
 *
 * Skipped (say why) when the addon has no CUDA backend, g++ is missing, or a real cuDNN is on this
 * machine's loader path (the stubs could not be told apart from it).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { addonFile, native } from '../lib/native';

const STUB_SOURCE = `#include <cstddef>
extern "C" {
#ifdef CUDNN
size_t cudnnGetVersion() { return CUDNN; }
size_t cudnnGetCudartVersion() { return CUDA; }
#endif
#ifdef CUBLAS
int cublasGetProperty(int type, int* value) {
  const int parts[3] = {CUBLAS / 10000, CUBLAS / 100 % 100, CUBLAS % 100};
  *value = parts[type];
  return 0;
}
size_t cublasGetCudartVersion() { return CUDA; }
#endif
#ifdef CUBLASLT
size_t cublasLtGetCudartVersion() { return CUDA; }
#endif
#ifdef NCCL
__attribute__((used)) const char kNcclVersion[] = NCCL;
int ncclGetVersion(int* version) { *version = 22703; return kNcclVersion[0] == 'N' ? 0 : 1; }
#endif
}
`;

/** What the child reports for each step: a cudaLibraries() result, NCCL's name, or the throw. */
type Step = { call: 'libraries'; folders?: string[] } | { call: 'nccl' };
type Outcome = {
  cudnn?: string;
  cublas?: string;
  error?: string;
  notFound?: boolean;
  versions?: Record<string, string>;
  nccl?: string;
  thrown?: string;
};

const CHILD = `const addon = require(process.argv[1]);
const out = [];
for (const step of JSON.parse(process.argv[2])) {
  try {
    out.push(step.call === 'nccl' ? { nccl: addon.ncclDescription() } : addon.cudaLibraries(step.folders));
  } catch (e) {
    out.push({ thrown: e.message });
  }
}
console.log(JSON.stringify(out));`;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-discovery-'));
const hasGpp = spawnSync('g++', ['--version']).status === 0;

/** Runs `steps` in a fresh process whose loader path is `loaderPath` (and nothing else set). */
function probe(steps: Step[], loaderPath: string[] = []): Outcome[] {
  const env: NodeJS.ProcessEnv = { ...process.env, LD_LIBRARY_PATH: loaderPath.join(':') };
  delete env.ALEXNET_CUDA_LIBS;
  const run = spawnSync(process.execPath, ['-e', CHILD, addonFile(), JSON.stringify(steps)], {
    env,
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`child failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as Outcome[];
}

function skipReason(): string {
  if (!native.cudaLibraries || !native.ncclDescription) return 'the addon has no CUDA backend';
  if (!hasGpp) return 'g++ not found';
  const [plain] = probe([{ call: 'libraries' }]);
  if (plain.cudnn) return `a real cuDNN is on the loader path (${plain.cudnn})`;
  return '';
}
const skip = skipReason();
const maybe = skip === '' ? test : test.skip;

/** Builds a stub library `name` in `folder` with the -D definitions `defines`. */
function stub(folder: string, name: string, defines: Record<string, string | number>): void {
  fs.mkdirSync(folder, { recursive: true });
  const source = path.join(dir, 'stub.cc');
  if (!fs.existsSync(source)) fs.writeFileSync(source, STUB_SOURCE);
  const flags = Object.entries(defines).map(([k, v]) => `-D${k}=${v}`);
  const run = spawnSync(
    'g++',
    ['-shared', '-fPIC', ...flags, source, '-o', path.join(folder, name)],
    {
      encoding: 'utf8',
    },
  );
  if (run.status !== 0) throw new Error(`g++ failed: ${run.stderr}`);
}

const cudnn = (folder: string, cuda: number) =>
  stub(folder, 'libcudnn.so.9', { CUDNN: 91300, CUDA: cuda });
/** libcublas.so.<major> reporting CUDA `cuda`, and its libcublasLt reporting `ltCuda`. */
function cublas(folder: string, major: number, cuda: number, ltCuda = cuda): void {
  stub(folder, `libcublas.so.${major}`, { CUBLAS: major * 10000 + 801, CUDA: cuda });
  stub(folder, `libcublasLt.so.${major}`, { CUBLASLT: 1, CUDA: ltCuda });
}

describe(`CUDA library discovery with stub libraries${skip ? ` (skipped: ${skip})` : ''}`, () => {
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  maybe(
    'cuBLAS follows the cuDNN found in the wheels, not the CUDA 13 cuBLAS on the loader path',
    () => {
      const root = path.join(dir, 'a', 'site-packages', 'nvidia');
      const loader = path.join(dir, 'a', 'loader');
      cudnn(path.join(root, 'cudnn', 'lib'), 12080);
      cublas(path.join(root, 'cublas', 'lib'), 12, 12080);
      cublas(path.join(root, 'cu13', 'lib'), 13, 13000);
      cublas(loader, 13, 13000);
      const wheels = ['cu13', 'cublas', 'cudnn'].map((p) => path.join(root, p, 'lib'));
      const [before, after] = probe(
        [{ call: 'libraries' }, { call: 'libraries', folders: wheels }],
        [loader],
      );
      // Without cuDNN, no cuBLAS is loaded (it would have been the loader path's CUDA 13 one).
      expect(before.notFound).toBe(true);
      expect(before.cublas).toBe('');
      expect(before.error).toContain('cuBLAS: not looked for until cuDNN is found');
      // With the wheels: cuDNN for CUDA 12.8, and the cuBLAS of that major from its wheel.
      expect(after.versions?.cudnnCuda).toBe('12.8');
      expect(after.cublas).toBe(
        `cuBLAS 12.8.1 from ${path.join(root, 'cublas', 'lib', 'libcublas.so.12')}`,
      );
      expect(after.versions?.cublasCuda).toBe('12.8');
      // The stubs export nothing else: loading stops there, naming the first missing function.
      expect(after.error).toContain('lacks cudnnGetErrorString');
      expect(after.error).toContain('lacks cublasCreate_v2');
    },
  );

  maybe('a cuBLAS built for another CUDA major than cuDNN is refused by name', () => {
    const loader = path.join(dir, 'b');
    cudnn(loader, 12080);
    cublas(loader, 12, 13000);
    const [libs] = probe([{ call: 'libraries' }], [loader]);
    expect(libs.error).toContain(
      `cuBLAS 12.8.1 from libcublas.so.12 (loader search path) is built for CUDA 13.0, but cuDNN 9.13.0 from libcudnn.so.9 (loader search path) is built for CUDA 12.8`,
    );
  });

  maybe('a cuBLASLt built for another CUDA major than cuDNN is refused by name', () => {
    const folder = path.join(dir, 'c');
    cudnn(folder, 12080);
    cublas(folder, 12, 12080, 13000);
    const [libs] = probe([{ call: 'libraries', folders: [folder] }]);
    expect(libs.error).toContain(
      `cuBLASLt from ${path.join(folder, 'libcublasLt.so.12')} is built for CUDA 13.0, but cuDNN`,
    );
    expect(libs.error).not.toContain('lacks cublasCreate_v2');
  });

  maybe(
    "NCCL of another CUDA major than cuDNN's is refused by name; of the same, it is opened",
    () => {
      const root = path.join(dir, 'd', 'nvidia');
      cudnn(path.join(root, 'cudnn', 'lib'), 12080);
      stub(path.join(root, 'nccl', 'lib'), 'libnccl.so.2', {
        NCCL: '"NCCL version 2.27.3+cuda13.0"',
      });
      stub(path.join(root, 'nccl12', 'lib'), 'libnccl.so.2', {
        NCCL: '"NCCL version 2.27.3+cuda12.9"',
      });
      const cudnnLib = path.join(root, 'cudnn', 'lib');
      const [, wrong] = probe([
        { call: 'libraries', folders: [cudnnLib, path.join(root, 'nccl', 'lib')] },
        { call: 'nccl' },
      ]);
      expect(wrong.thrown).toBe(
        `NCCL 2.27.3 from ${path.join(root, 'nccl', 'lib', 'libnccl.so.2')} is built for CUDA 13.0, but cuDNN is built for CUDA 12: one process takes one CUDA major. Install nvidia-nccl-cu12 and put the other out of the search (ALEXNET_CUDA_LIBS, LD_LIBRARY_PATH).`,
      );
      const [, right] = probe([
        { call: 'libraries', folders: [cudnnLib, path.join(root, 'nccl12', 'lib')] },
        { call: 'nccl' },
      ]);
      // Past the CUDA check, the stub lacks the rest of NCCL.
      expect(right.thrown).toContain('lacks ncclGetUniqueId');
    },
  );
});
