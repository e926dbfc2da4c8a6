/**
 * lib/ is built in floors (README, "Architecture"); a file imports only from its own floor or
 * below. This test reads every import in lib/ and fails on one that points up, naming both files,
 * so a new upward import is caught in review rather than found later as a cycle.
 */
import * as fs from 'node:fs';
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

function floorOf(file: string): number {
  const relative = path.relative(LIB, file).split(path.sep).join('/');
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

test('no file in lib/ imports from a floor above its own', () => {
  const upward: string[] = [];
  for (const file of sourceFiles(LIB)) {
    for (const target of localImports(file)) {
      if (floorOf(target) > floorOf(file)) {
        const from = path.relative(LIB, file);
        const to = path.relative(LIB, target);
        upward.push(
          `${from} (${FLOORS[floorOf(file)].name}) imports ${to} (${FLOORS[floorOf(target)].name})`,
        );
      }
    }
  }
  expect(upward).toEqual([]);
});

test('the import reader finds an upward import', () => {
  // The check above passes vacuously if localImports finds nothing; this file's own fixture proves it reads them.
  const dir = fs.mkdtempSync(path.join(LIB, '..', 'test', '.layering-'));
  try {
    fs.mkdirSync(path.join(dir, 'io'));
    fs.writeFileSync(path.join(dir, 'nn.ts'), '');
    fs.writeFileSync(path.join(dir, 'io', 'x.ts'), "import type { A } from '../nn';\n");
    expect(localImports(path.join(dir, 'io', 'x.ts'))).toEqual([path.join(dir, 'nn.ts')]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
