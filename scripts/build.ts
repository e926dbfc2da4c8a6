/**
 * `alexnet build`: compiles the native addon from source into the package's build/Release, for
 * machines where the prebuilt binary does not fit (another OS or architecture, an older glibc)
 * and for git clones (the `prepare` hook runs it with --if-missing). Through cmake-js when CMake
 * is on the PATH (the CPU backend, plus CUDA when nvcc is found), else through node-gyp and
 * native/binding.gyp (the CPU backend only). Offline: cmake-js takes Node's headers from the
 * node-api-headers package (package.json "binary"), node-gyp from Node's own include folder.
 * The package runs no install script (npm 12, pnpm 10 and bun skip them): building is this
 * explicit command.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AlexNetError } from '../lib/errors';
import { builtAddonFile, packageRoot, prebuiltAddonFile } from '../lib/package-root';
import { type Flags, parseFlags } from './cli';

const USAGE = `Usage: alexnet build [options]

Compiles the native addon from source into this package (build/Release/alexnet_native.node),
which is then loaded instead of the prebuilt binary. Needs a C++17 compiler, and CMake (CPU
backend, and CUDA when nvcc is on the PATH) or else node-gyp (CPU backend only).`;

const FLAGS: Flags = {
  'cpu-only': { type: 'boolean', description: 'skip the CUDA backend even where nvcc is found' },
  'if-missing': {
    type: 'boolean',
    description: 'build only when neither a build nor a prebuilt binary that loads is there',
  },
  help: { type: 'boolean', description: 'show this help' },
};

function onPath(command: string): boolean {
  return spawnSync(command, ['--version'], { stdio: 'ignore' }).status === 0;
}

function runTool(command: string, args: string[], cwd: string): void {
  console.log(`> ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, { cwd, stdio: 'inherit' });
  if (result.status !== 0) {
    throw new AlexNetError(`${path.basename(args[0] ?? command)} failed (exit ${result.status})`);
  }
}

/**
 * Whether the prebuilt binary for this platform is there and loads here (a child process tries
 * it: a binary that needs a newer glibc fails to load, and must not take this one down).
 */
function prebuiltLoads(): boolean {
  const file = prebuiltAddonFile();
  if (!fs.existsSync(file)) return false;
  const probe = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(file)})`]);
  return probe.status === 0;
}

/** node-gyp: the one npm runs scripts with, else the one npm bundles, else an installed one. */
function nodeGyp(): string {
  const candidates = [
    process.env.npm_config_node_gyp,
    process.env.npm_execpath &&
      path.join(path.dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp'),
    path.join(
      path.dirname(process.execPath),
      '..',
      'lib',
      'node_modules',
      'npm',
      'node_modules',
      'node-gyp',
    ),
  ];
  for (const candidate of candidates) {
    if (!candidate) continue;
    const file = candidate.endsWith('.js') ? candidate : path.join(candidate, 'bin', 'node-gyp.js');
    if (fs.existsSync(file)) return file;
  }
  try {
    return require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    throw new AlexNetError(
      'Expected CMake or node-gyp to build the addon but found neither: install CMake (or npm, which bundles node-gyp)',
    );
  }
}

/** The CPU backend through node-gyp and native/binding.gyp, copied to where the loader looks. */
function buildWithNodeGyp(root: string): void {
  const nodeDir = path.join(path.dirname(process.execPath), '..');
  // Node's own headers, so that node-gyp downloads nothing.
  const offline = fs.existsSync(path.join(nodeDir, 'include', 'node', 'node_api.h'))
    ? [`--nodedir=${nodeDir}`]
    : [];
  const native = path.join(root, 'native');
  runTool(process.execPath, [nodeGyp(), 'rebuild', ...offline], native);
  const target = builtAddonFile();
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.copyFileSync(path.join(native, 'build', 'Release', 'alexnet_native.node'), target);
  fs.rmSync(path.join(native, 'build'), { recursive: true, force: true });
}

/** The build command; `argv` are its flags. */
export async function main(argv: string[]): Promise<void> {
  const args = parseFlags(argv, FLAGS, USAGE);
  if (args.positionals.length > 0) {
    throw new AlexNetError(`Unexpected argument '${args.positionals[0]}' (see --help)`);
  }
  if (args.flag('if-missing') && (fs.existsSync(builtAddonFile()) || prebuiltLoads())) {
    console.log(
      'alexnet build: an addon is already there (alexnet build without --if-missing rebuilds)',
    );
    return;
  }
  const root = packageRoot();
  if (onPath('cmake')) {
    const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
    const cpuOnly = args.flag('cpu-only') || process.env.ALEXNET_CPU_ONLY;
    runTool(
      process.execPath,
      [cmakeJs, 'compile', ...(cpuOnly ? ['--CDALEXNET_CPU_ONLY=ON'] : [])],
      root,
    );
  } else {
    console.log('alexnet build: CMake not found, building the CPU backend with node-gyp');
    buildWithNodeGyp(root);
  }
  console.log(`alexnet build: ${builtAddonFile()}`);
}
