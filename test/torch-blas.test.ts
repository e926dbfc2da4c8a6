/**
 * The BLAS variants the benches time PyTorch on (scripts/bench/torch-blas.ts): the --torch-blas
 * value, the environment that selects a variant, the check that the variant is the one PyTorch
 * loaded, and, where Debian's python3-torch and the libraries are installed, that a process
 * started on each variant does report that variant's library.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { findTorchPython } from '../scripts/bench/torch';
import {
  type BlasReport,
  checkTorchBlas,
  selectTorchBlas,
  TORCH_BLAS,
  type TorchBlas,
  torchBlasEnv,
} from '../scripts/bench/torch-blas';

const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-torch-blas-'));
const variant: TorchBlas = {
  name: 'openblas',
  title: 'a test BLAS',
  folder,
  debianPackage: 'libtest0',
};
const noOpenblas = { openblasCore: null, openblasThreads: null };

afterAll(() => fs.rmSync(folder, { recursive: true, force: true }));

test('--torch-blas names known variants only, whatever this machine has installed', () => {
  for (const raw of ['reference,mkl', 'mkl,reference', 'openblas,mkl', 'mkl'])
    expect(() => selectTorchBlas(raw)).toThrow(
      "Expected reference or openblas in --torch-blas but received 'mkl'",
    );
});

test('without --torch-blas, each variant is either selected or skipped with the package to install', () => {
  const { variants, notes } = selectTorchBlas(undefined);
  expect(variants.length + notes.length).toBe(TORCH_BLAS.length);
  for (const note of notes)
    expect(note).toMatch(/skipped, .*libblas\.so\.3 is missing \(Debian: apt-get install /);
});

// The machines CI runs on (issue 28): both libraries, one of them, or neither, each made here
// from folders of our own, so that every case runs whatever this machine has.
describe.each([
  ['both libraries', ['reference', 'openblas']],
  ['OpenBLAS only', ['openblas']],
  ['the reference BLAS only', ['reference']],
  ['neither library', []],
] as const)('--torch-blas on a machine with %s', (_machine, present) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-torch-blas-machine-'));
  const table: TorchBlas[] = TORCH_BLAS.map((b) => ({ ...b, folder: path.join(root, b.name) }));
  for (const b of table) {
    fs.mkdirSync(b.folder);
    if ((present as readonly string[]).includes(b.name))
      fs.writeFileSync(path.join(b.folder, 'libblas.so.3'), '');
  }
  const absent = table.filter((b) => !(present as readonly string[]).includes(b.name));
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  test('an unknown name is reported before any missing library', () => {
    for (const raw of ['reference,mkl', 'mkl,openblas', 'openblas,reference,mkl'])
      expect(() => selectTorchBlas(raw, table)).toThrow(
        "Expected reference or openblas in --torch-blas but received 'mkl'",
      );
  });

  test('each installed variant is selected by name, each missing one names its package', () => {
    for (const name of present) {
      expect(selectTorchBlas(name, table).variants.map((b) => b.name)).toEqual([name]);
    }
    if (absent.length > 0) {
      expect(() => selectTorchBlas('reference,openblas', table)).toThrow(
        `--torch-blas ${absent[0].name}: `,
      );
    }
    for (const b of absent) {
      expect(() => selectTorchBlas(b.name, table)).toThrow(
        `--torch-blas ${b.name}: ${path.join(b.folder, 'libblas.so.3')} is missing (Debian: apt-get install ${b.debianPackage})`,
      );
    }
  });

  test('without a value, the installed variants are selected and each other one noted', () => {
    const { variants, notes } = selectTorchBlas(undefined, table);
    // In TORCH_BLAS's order, whatever the order of the machine's list.
    const expected = TORCH_BLAS.map((b) => b.name).filter((n) =>
      (present as readonly string[]).includes(n),
    );
    expect(variants.map((b) => b.name)).toEqual(expected);
    expect(notes).toEqual(
      absent.map(
        (b) =>
          `PyTorch on ${b.title}: skipped, ${path.join(b.folder, 'libblas.so.3')} is missing (Debian: apt-get install ${b.debianPackage})`,
      ),
    );
  });
});

test("a variant's folder comes first on LD_LIBRARY_PATH, and OpenBLAS gets our thread count", () => {
  const saved = process.env.LD_LIBRARY_PATH;
  process.env.LD_LIBRARY_PATH = '/opt/other';
  try {
    const env = torchBlasEnv(variant, 3);
    expect(env.LD_LIBRARY_PATH).toBe(`${folder}:/opt/other`);
    expect(env.OPENBLAS_NUM_THREADS).toBe('3');
  } finally {
    if (saved === undefined) delete process.env.LD_LIBRARY_PATH;
    else process.env.LD_LIBRARY_PATH = saved;
  }
});

test('a PyTorch whose sgemm_ runs outside the variant fails the check, naming both', () => {
  expect(() =>
    checkTorchBlas(variant, { library: path.join(folder, 'libblas.so.3'), ...noOpenblas }, 'py'),
  ).not.toThrow();
  const other = '/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3';
  expect(() => checkTorchBlas(variant, { library: other, ...noOpenblas }, 'py')).toThrow(
    `py's PyTorch was started on a test BLAS, LD_LIBRARY_PATH=${folder}, but its sgemm_ runs in ${other},`,
  );
  expect(() => checkTorchBlas(variant, { library: null, ...noOpenblas }, 'py')).toThrow(
    'but its sgemm_ runs in no shared library',
  );
});

// Debian's torch takes sgemm_ from libblas.so.3; a pip wheel bundles its BLAS and cannot be
// switched, so this runs only with the system's python3-torch.
const debianTorch = findTorchPython() === '/usr/bin/python3';
const installed = new Set(selectTorchBlas(undefined).variants.map((b) => b.name));

// One test per variant, whatever is installed, each skipped with its reason in the title.
for (const blas of TORCH_BLAS) {
  const reason = !debianTorch
    ? 'no Debian python3-torch at /usr/bin/python3 (apt-get install python3-torch)'
    : !installed.has(blas.name)
      ? `no ${blas.folder}/libblas.so.3 (apt-get install ${blas.debianPackage})`
      : null;
  (reason ? test.skip : test)(
    `PyTorch started on ${blas.name} reports that library${reason ? ` (skipped: ${reason})` : ''}`,
    () => {
      const script = path.join(__dirname, '..', 'scripts', 'bench');
      const probe = spawnSync(
        '/usr/bin/python3',
        [
          '-c',
          `import json, sys; sys.path.insert(0, ${JSON.stringify(script)}); ` +
            'import torch_blas; print(json.dumps(torch_blas.blas_info()))',
        ],
        { encoding: 'utf8', env: torchBlasEnv(blas, 1) },
      );
      expect(probe.status).toBe(0);
      const report = JSON.parse(probe.stdout) as BlasReport;
      expect(() => checkTorchBlas(blas, report, '/usr/bin/python3')).not.toThrow();
      // OpenBLAS's own report exists only where OpenBLAS runs the GEMMs, on our thread count.
      expect(report.openblasThreads).toBe(blas.name === 'openblas' ? 1 : null);
    },
  );
}
