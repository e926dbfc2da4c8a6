/**
 * The search of python3's NVIDIA wheels (lib/cuda-wheels.ts), with a fake Python: a shell script
 * that prints the `nvidia` package folders of a fake site-packages, hangs, or fails.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { findWheelFolders } from '../lib/cuda-wheels';

describe('findWheelFolders', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-wheels-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** An executable that runs `body` (sh) in place of Python. */
  function fakePython(name: string, body: string): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    return file;
  }

  test('lists the lib folder of each package, in both wheel layouts, and says what it ran', () => {
    const site = path.join(dir, 'site-packages', 'nvidia');
    for (const p of ['cudnn/lib', 'cu13/lib', 'cublas/lib', 'cuda_nvrtc/lib', 'no_lib/include']) {
      fs.mkdirSync(path.join(site, p), { recursive: true });
    }
    fs.writeFileSync(path.join(site, '__init__.py'), '');
    const python = fakePython('python-ok', `echo "${site}"`);
    const search = findWheelFolders({ python });
    expect(search.folders).toEqual(
      ['cu13', 'cublas', 'cuda_nvrtc', 'cudnn'].map((p) => path.join(site, p, 'lib')),
    );
    expect(search.description).toBe(
      `ran ${python} -c "import nvidia; print('\\n'.join(nvidia.__path__))": found ${search.folders.join(', ')}`,
    );
  });

  test('a Python without the wheels', () => {
    const python = fakePython(
      'python-none',
      'echo "ModuleNotFoundError: No module named \'nvidia\'" >&2; exit 1',
    );
    const search = findWheelFolders({ python });
    expect(search.folders).toEqual([]);
    expect(search.description).toMatch(
      /: exit status 1 \(ModuleNotFoundError: No module named 'nvidia'\): no NVIDIA wheels$/,
    );
  });

  test('a Python that does not answer is stopped at the timeout', () => {
    const python = fakePython('python-hang', 'exec sleep 30');
    const start = Date.now();
    const search = findWheelFolders({ python, timeoutMs: 300 });
    expect(Date.now() - start).toBeLessThan(10000);
    expect(search.folders).toEqual([]);
    expect(search.description).toMatch(/: no answer within 300 ms$/);
  });

  test('no Python at all', () => {
    const search = findWheelFolders({ python: path.join(dir, 'missing-python') });
    expect(search.folders).toEqual([]);
    expect(search.description).toMatch(/: could not start it \(ENOENT\)$/);
  });

  test('a package folder without lib folders', () => {
    const empty = path.join(dir, 'empty', 'nvidia');
    fs.mkdirSync(path.join(empty, 'cudnn', 'include'), { recursive: true });
    const search = findWheelFolders({ python: fakePython('python-empty', `echo "${empty}"`) });
    expect(search).toEqual({
      folders: [],
      description: expect.stringMatching(new RegExp(`: no lib folders under ${empty}$`)),
    });
  });
});
