/**
 * lib/ is built in floors (README, "Architecture"); a file imports only from its own floor or
 * below. This test reads every import in lib/ and fails on one that points up, naming both files,
 * so a new upward import is caught in review rather than found later as a cycle.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const LIB = path.join(__dirname, '..', 'lib');

/** Bottom to top; a path belongs to the first floor whose pattern matches it (relative to lib/). */
const FLOORS: { name: string; match: RegExp }[] = [
  {
    name: 'base',
    match: /^(errors|validate|random|native|package-root|queue|progress|cuda-wheels)\.ts$/,
  },
  { name: 'tensor, device', match: /^(tensor|device|smoke-check|batch-buffers)\.ts$/ },
  { name: 'ops', match: /^ops\// },
  { name: 'io', match: /^io\// },
  { name: 'data', match: /^data\// },
  { name: 'nn', match: /^nn\// },
  { name: 'distributed', match: /^distributed\// },
  { name: 'train, predict', match: /^(train\/|predict)/ },
  { name: 'serve, doctor', match: /^(serve|doctor)\// },
  { name: 'index', match: /^index\.ts$/ },
];

/** The floor of a file under `lib` (the project's lib/, or a test's copy of its layout). */
function floorOf(file: string, lib = LIB): number {
  const relative = path.relative(lib, file).split(path.sep).join('/');
  const floor = FLOORS.findIndex((f) => f.match.test(relative));
  if (floor < 0) throw new Error(`lib/${relative} is on no floor: add it to FLOORS`);
  return floor;
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** The lib/ files a source file imports (static imports, exports from and dynamic imports). */
function localImports(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const specifiers = [
    ...text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+'(\.[^']+)'/g),
    ...text.matchAll(/import\(\s*'(\.[^']+)'\s*\)/g),
  ].map((m) => m[1]);
  return specifiers.map((s) => {
    const target = path.resolve(path.dirname(file), s);
    return fs.existsSync(`${target}.ts`) ? `${target}.ts` : path.join(target, 'index.ts');
  });
}

test('every file in lib/ is on a floor', () => {
  for (const file of sourceFiles(LIB)) expect(() => floorOf(file)).not.toThrow();
});

/** Every import under `lib` that points to a higher floor, as 'from (floor) imports to (floor)'. */
function upwardImports(lib: string): string[] {
  const upward: string[] = [];
  for (const file of sourceFiles(lib)) {
    for (const target of localImports(file)) {
      const [from, to] = [floorOf(file, lib), floorOf(target, lib)];
      if (to > from) {
        const [a, b] = [path.relative(lib, file), path.relative(lib, target)];
        upward.push(`${a} (${FLOORS[from].name}) imports ${b} (${FLOORS[to].name})`);
      }
    }
  }
  return upward;
}

test('no file in lib/ imports from a floor above its own', () => {
  expect(upwardImports(LIB)).toEqual([]);
});

test('the check finds an upward import in a tree laid out like lib/', () => {
  // The check above would pass vacuously if it found no imports at all: here io/ imports nn/.
  const lib = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-layering-'));
  try {
    for (const folder of ['io', 'nn']) fs.mkdirSync(path.join(lib, folder));
    fs.writeFileSync(path.join(lib, 'nn', 'model.ts'), "import { a } from '../io/format';\n");
    fs.writeFileSync(path.join(lib, 'io', 'format.ts'), "import type { M } from '../nn/model';\n");
    expect(upwardImports(lib)).toEqual([
      `${path.join('io', 'format.ts')} (io) imports ${path.join('nn', 'model.ts')} (nn)`,
    ]);
  } finally {
    fs.rmSync(lib, { recursive: true, force: true });
  }
});
