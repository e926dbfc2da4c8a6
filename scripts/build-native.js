#!/usr/bin/env node
// The install step. A package from `npm pack` carries a prebuilt binary (scripts/prebuild.js):
// when it loads on this machine it is used and nothing is compiled. Otherwise, or with
// `npm install --build-from-source` (npm_config_build_from_source), the addon is built: through
// cmake-js when CMake is on the PATH (CPU backend, plus CUDA when nvcc is found), otherwise
// through node-gyp and binding.gyp (CPU backend only). `npm run build` always builds.
// cmake-js takes Node's headers from the node-api-headers package (package.json "binary"), so
// nothing is downloaded beyond the npm registry.

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

function onPath(command) {
  return spawnSync(command, ['--version'], { stdio: 'ignore' }).status === 0;
}

function run(command, args) {
  console.log(`> ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', shell: false });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

/**
 * Whether the prebuilt binary for this platform is there and loads here (a child process tries
 * it: a binary that needs a newer glibc fails to load, and must not take this one down).
 */
function prebuiltLoads() {
  const file = path.join(
    root,
    'prebuilds',
    `${process.platform}-${process.arch}`,
    'alexnet_native.node',
  );
  if (!fs.existsSync(file)) return false;
  const probe = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(file)})`], {
    encoding: 'utf8',
  });
  if (probe.status === 0) return true;
  console.log(
    `alexnet-cudnn: the prebuilt binary does not load here, building from source:\n${probe.stderr.trim().split('\n')[0]}`,
  );
  return false;
}

const fromSource =
  process.argv.includes('--build-from-source') ||
  /^(true|1)$/.test(process.env.npm_config_build_from_source ?? '');
if (!fromSource && prebuiltLoads()) {
  console.log(
    'alexnet-cudnn: using the prebuilt binary (npm install --build-from-source compiles instead)',
  );
  process.exit(0);
}

const extra = process.env.ALEXNET_CPU_ONLY ? ['--CDALEXNET_CPU_ONLY=ON'] : [];
if (onPath('cmake')) {
  run(process.execPath, [require.resolve('cmake-js/bin/cmake-js'), 'compile', ...extra]);
} else {
  console.log('alexnet-cudnn: CMake not found, building the CPU backend with node-gyp');
  const gyp = process.env.npm_config_node_gyp;
  if (gyp) run(process.execPath, [gyp, 'rebuild']);
  else run('npx', ['--yes', 'node-gyp', 'rebuild']);
}
